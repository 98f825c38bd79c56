//! `sandserve new --lang rust|python|js DIR`: a minimal working handler project — the
//! contract in `DIR/wit/`, a handler that serves the root's files with a 404 page, and
//! its build command in the source's opening comment — so that a user needs nothing
//! from this repository. The templates are `host/templates/`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

const PYTHON: &[(&str, &str)] = &[("app.py", include_str!("../../templates/python/app.py"))];
const JS: &[(&str, &str)] = &[
    ("handler.js", include_str!("../../templates/js/handler.js")),
    (
        "package.json",
        include_str!("../../templates/js/package.json"),
    ),
];
const RUST: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/rust/src/lib.rs"),
    ),
];

/// Writes the project into `dir`, which must not exist yet or be empty.
pub fn run(lang: &str, dir: &Path) -> Result<ExitCode> {
    let files = match lang {
        "python" => PYTHON,
        "rust" => RUST,
        "js" => JS,
        _ => bail!("--lang {lang}: the languages are rust, python and js"),
    };
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        bail!("{} is not empty", dir.display());
    }
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .with_context(|| {
            format!(
                "{}: the folder's name must be a package name (letters, digits, - and _)",
                dir.display()
            )
        })?;
    let crate_name = name.replace('-', "_");
    let mut all: Vec<(&str, String)> = files
        .iter()
        .map(|(path, text)| {
            (
                *path,
                text.replace("{{name}}", name)
                    .replace("{{crate}}", &crate_name),
            )
        })
        .collect();
    all.push(("wit/sandserve.wit", crate::tools::wit::CURRENT.to_owned()));
    for (path, text) in all {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap())
            .with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
