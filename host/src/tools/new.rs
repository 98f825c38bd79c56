//! `sandserve new --lang rust|python|js|c DIR`: a complete handler project — the
//! handler (files of the root, 404 with the root's 404.html), the contract in
//! `DIR/wit/`, a `sandserve.toml` (how `sandserve build` builds it, the check level it
//! keeps, its own requests for `sandserve check .`) and a ten-line README — so that a
//! user needs nothing from this repository. The templates are `host/templates/`; a C
//! project carries the bindings committed under `guest/c/gen/`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

type Files = &'static [(&'static str, &'static [u8])];

macro_rules! template {
    ($lang:literal: $($path:literal),+ $(,)?) => {
        &[$(($path, include_bytes!(concat!("../../templates/", $lang, "/", $path)))),+]
    };
}

const PYTHON: Files = template!("python": "app.py", "sandserve.toml", "README.md");
const JS: Files = template!("js": "handler.js", "sandserve.toml", "README.md");
const RUST: Files = template!("rust": "Cargo.toml", "src/lib.rs", "sandserve.toml", "README.md");
const C: Files = template!("c": "handler.c", "sandserve.toml", "README.md");
/// The C bindings by `wit-bindgen c`, shared with guest/c (never generated here: the
/// generator takes ten minutes to build).
const C_BINDINGS: Files = &[
    (
        "gen/sandserve.h",
        include_bytes!("../../../guest/c/gen/sandserve.h"),
    ),
    (
        "gen/sandserve.c",
        include_bytes!("../../../guest/c/gen/sandserve.c"),
    ),
    (
        "gen/sandserve_component_type.o",
        include_bytes!("../../../guest/c/gen/sandserve_component_type.o"),
    ),
];

/// Writes the project into `dir`, which must not exist yet or be empty.
pub fn run(lang: &str, dir: &Path) -> Result<ExitCode> {
    let files: Vec<Files> = match lang {
        "python" => vec![PYTHON],
        "rust" => vec![RUST],
        "js" => vec![JS],
        "c" => vec![C, C_BINDINGS],
        _ => bail!("--lang {lang}: the languages are rust, python, js and c"),
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
    let mut all: Vec<(&str, Vec<u8>)> = Vec::new();
    for (path, bytes) in files.into_iter().flatten() {
        let bytes = match path.ends_with(".o") {
            true => bytes.to_vec(),
            false => String::from_utf8_lossy(bytes)
                .replace("{{name}}", name)
                .replace("{{crate}}", &crate_name)
                .into_bytes(),
        };
        all.push((path, bytes));
    }
    all.push((
        "wit/sandserve.wit",
        crate::tools::wit::CURRENT.as_bytes().to_vec(),
    ));
    for (path, bytes) in all {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap())
            .with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
