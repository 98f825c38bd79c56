//! The contract as a handler author gets it: `sandserve wit` prints the WIT that
//! handlers are built against, or writes it to a folder that componentize-py, jco,
//! wit-bindgen and `cargo component` can be pointed at — so that writing a handler
//! needs nothing from this repository.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

/// `sandserve:server@0.5.0`, the contract the host speaks natively.
pub const CURRENT: &str = include_str!("../../../wit/sandserve.wit");
/// The frozen `sandserve:server@0.4.0`, still served.
pub const V0_4_0: &str = include_str!("../../../wit/compat/sandserve@0.4.0.wit");
/// The frozen `sandserve:server@0.3.0`, still served.
pub const V0_3_0: &str = include_str!("../../../wit/compat/sandserve@0.3.0.wit");
/// The frozen `sandserve:server@0.2.0`, still served.
pub const V0_2_0: &str = include_str!("../../../wit/compat/sandserve@0.2.0.wit");

/// Prints the contract, or writes it as `DIR/sandserve.wit`. An existing file with
/// other content is left alone and reported: it may be someone's edited copy.
pub fn run(out: Option<&Path>, compat: Option<&str>) -> Result<ExitCode> {
    let text = match compat {
        None => CURRENT,
        Some("0.4.0") => V0_4_0,
        Some("0.3.0") => V0_3_0,
        Some("0.2.0") => V0_2_0,
        Some(other) => bail!("no contract {other} (0.4.0, 0.3.0 and 0.2.0 are still served)"),
    };
    let Some(dir) = out else {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    };
    let file = dir.join("sandserve.wit");
    match std::fs::read_to_string(&file) {
        Ok(existing) if existing == text => {}
        Ok(_) => bail!("{} exists and differs; remove it first", file.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            std::fs::write(&file, text)
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    }
    println!("{}", file.display());
    Ok(ExitCode::SUCCESS)
}
