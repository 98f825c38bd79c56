//! A handler project as `sandserve build` and `sandserve dev` see it: its folder and
//! its manifest, `sandserve.toml` — the language (which says how it is built), where
//! the component goes, the `check` level it must keep, and its own requests for
//! `sandserve check` — and the source files whose change means a rebuild.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::tools::check::{Case, LEVELS};

/// The manifest's name in a project's folder.
pub const MANIFEST: &str = "sandserve.toml";

/// The languages a project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    Python,
    Js,
    C,
}

impl Lang {
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::C => "c",
        }
    }

    /// Whether a file of this name is a source of a project in this language.
    fn is_source(self, name: &str) -> bool {
        let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
        match self {
            Lang::Rust => ext == "rs" || name == "Cargo.toml",
            Lang::Python => ext == "py",
            Lang::Js => matches!(ext, "js" | "mjs" | "json") && name != "package-lock.json",
            Lang::C => matches!(ext, "c" | "h"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    lang: Lang,
    #[serde(default = "default_out")]
    out: PathBuf,
    #[serde(default = "default_level")]
    level: String,
    #[serde(default)]
    test: Vec<Case>,
}

fn default_out() -> PathBuf {
    PathBuf::from("handler.wasm")
}

fn default_level() -> String {
    "seed".to_owned()
}

/// Folders below the project's that are searched for sources.
const MAX_DEPTH: usize = 8;

/// `out` below the project folder `dir`: a `.wasm` file name (never a source or the
/// manifest), in a folder that is the project's or below it once symbolic links are
/// resolved — a build writes there, and a cloned project must not make it write
/// elsewhere. The folder is made if missing.
fn inside(dir: &Path, out: &Path) -> Result<PathBuf> {
    let normal = out
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if out.as_os_str().is_empty() || !normal || out.extension().is_none_or(|e| e != "wasm") {
        bail!("not a relative path to a .wasm file");
    }
    let path = dir.join(out);
    let parent = path.parent().context("no folder")?;
    std::fs::create_dir_all(parent).with_context(|| format!("cannot make {}", parent.display()))?;
    let real_dir = dir.canonicalize()?;
    if !parent.canonicalize()?.starts_with(&real_dir) {
        bail!("its folder leads out of the project");
    }
    Ok(path)
}

/// A project folder with a valid manifest.
#[derive(Debug)]
pub struct Project {
    pub dir: PathBuf,
    pub lang: Lang,
    /// The component `build` writes (absolute).
    pub out: PathBuf,
    /// The `check` level every build must reach.
    pub level: &'static str,
    pub cases: Vec<Case>,
}

impl Project {
    /// Reads `dir/sandserve.toml`; a one-line error names what is wrong in it.
    pub fn open(dir: &Path) -> Result<Project> {
        let dir = std::path::absolute(dir)
            .with_context(|| format!("{}: not a usable path", dir.display()))?;
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {} (a project of `sandserve new` has one)",
                path.display()
            )
        })?;
        let manifest: Manifest = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
        let Some(level) = LEVELS.iter().find(|l| **l == manifest.level) else {
            bail!(
                "{}: level = {:?}: the levels are {}",
                path.display(),
                manifest.level,
                LEVELS.join(", ")
            );
        };
        let out = inside(&dir, &manifest.out).with_context(|| {
            format!(
                "{}: out = {:?}: a .wasm file inside the project",
                path.display(),
                manifest.out
            )
        })?;
        Ok(Project {
            out,
            dir,
            lang: manifest.lang,
            level,
            cases: manifest.test,
        })
    }

    /// The project's sources with their modification times, in a stable order: what
    /// `dev` compares between two looks. Hidden folders and what tools write
    /// (`target`, `node_modules`, `__pycache__`, `gen`) are not searched.
    pub fn sources(&self) -> Vec<(PathBuf, SystemTime)> {
        let mut found = Vec::new();
        let mut stack = vec![(self.dir.clone(), 0)];
        while let Some((dir, depth)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() {
                    let skip = name.starts_with('.')
                        || depth >= MAX_DEPTH
                        || matches!(
                            name,
                            "target" | "node_modules" | "__pycache__" | "gen" | "venv"
                        );
                    if !skip {
                        stack.push((entry.path(), depth + 1));
                    }
                } else if meta.is_file() && !name.starts_with('.') && self.lang.is_source(name) {
                    found.push((
                        entry.path(),
                        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    ));
                }
            }
        }
        found.sort();
        found
    }
}
