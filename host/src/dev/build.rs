//! `sandserve build [DIR]`: a project made a component with its language's toolchain
//! (installed into the tools cache the first time), written where its manifest says —
//! under a temporary name first, so an interrupted or failed build never leaves a
//! fresh-looking component. What the toolchain prints is shown as it is; a failure
//! names the command that failed.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::dev::project::{Lang, Project};
use crate::dev::toolchain::{self, Tools, run_shown};

/// `sandserve build`: builds and says where the component went, and how long it took.
pub fn run(dir: &Path) -> Result<ExitCode> {
    let project = Project::open(dir)?;
    let took = build(&project)?;
    println!(
        "built {} ({} project) in {:.2} s",
        project.out.display(),
        project.lang.name(),
        took.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Builds `project` into its `out`; the time the build itself took (installs aside).
pub fn build(project: &Project) -> Result<Duration> {
    let tmp = project.out.with_extension("wasm.tmp");
    if let Some(parent) = tmp.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot make {}", parent.display()))?;
    }
    // Installs happen under the cache's lock; the build itself runs without it.
    let steps = {
        let tools = Tools::open()?;
        steps(project, &tools, &tmp)?
    };
    let started = Instant::now();
    let outcome = steps
        .into_iter()
        .try_for_each(|mut step| run_shown(&mut step));
    if let Err(e) = outcome {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if project.lang == Lang::Rust {
        // Cargo writes into the shared target folder: copy the crate's component out.
        let built = rust_output(project)?;
        std::fs::copy(&built, &tmp).with_context(|| format!("cannot copy {}", built.display()))?;
    }
    std::fs::rename(&tmp, &project.out)
        .with_context(|| format!("cannot write {}", project.out.display()))?;
    Ok(started.elapsed())
}

/// The commands that build `project` into `tmp`, its toolchain installed first.
fn steps(project: &Project, tools: &Tools, tmp: &Path) -> Result<Vec<Command>> {
    let dir = &project.dir;
    let mut steps = Vec::new();
    match project.lang {
        Lang::Python => {
            let mut step = Command::new(tools.componentize_py()?);
            // VIRTUAL_ENV: componentize-py would add an active venv's site-packages to
            // the component's Python path.
            step.env_remove("VIRTUAL_ENV")
                .args([
                    "--quiet",
                    "-d",
                    "wit",
                    "-w",
                    "sandserve",
                    "componentize",
                    "app",
                    "-p",
                    ".",
                ])
                .arg("-o")
                .arg(tmp);
            steps.push(step);
        }
        Lang::Js => {
            let mut step = Command::new(tools.node_bin("componentize-js")?);
            // No WASI feature but stdio: the handler gets files from `root` and the
            // date from the request, and what it logs reaches --handler-output.
            step.args(["handler.js", "--wit", "wit", "--world-name", "sandserve"])
                .args(["-d", "random", "clocks", "http", "fetch-event", "-o"])
                .arg(tmp);
            steps.push(step);
        }
        Lang::Rust => {
            let mut step = Command::new("cargo");
            step.args(["build", "--release", "--target", "wasm32-wasip2"])
                .env("CARGO_TARGET_DIR", tools.cargo_target());
            steps.push(step);
        }
        Lang::C => {
            let clang = toolchain::clang()?;
            let core = tmp.with_extension("core");
            let mut sources: Vec<PathBuf> = std::fs::read_dir(dir)?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "c"))
                .collect();
            sources.sort();
            if sources.is_empty() {
                bail!("{}: no .c file to build", dir.display());
            }
            let mut compile = Command::new(clang);
            compile
                .args([
                    "--target=wasm32-wasi",
                    "-mexec-model=reactor",
                    "-O2",
                    "-Wall",
                    "-Igen",
                ])
                .args(&sources)
                .args(["gen/sandserve.c", "gen/sandserve_component_type.o", "-o"])
                .arg(&core);
            let mut component = Command::new(tools.wasm_tools()?);
            component
                .args(["component", "new"])
                .arg(&core)
                .arg("--adapt")
                .arg(adapt(&tools.reactor_adapter()?))
                .arg("-o")
                .arg(tmp);
            steps.push(compile);
            steps.push(component);
        }
    }
    for step in &mut steps {
        step.current_dir(dir);
    }
    Ok(steps)
}

fn adapt(adapter: &Path) -> std::ffi::OsString {
    let mut arg = std::ffi::OsString::from("wasi_snapshot_preview1=");
    arg.push(adapter);
    arg
}

/// Where cargo put the component of the project's crate.
fn rust_output(project: &Project) -> Result<PathBuf> {
    let manifest = project.dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let value: toml::Value = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", manifest.display(), e.message()))?;
    let name = value
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .with_context(|| format!("{}: no package name", manifest.display()))?;
    let tools = toolchain::cache()?;
    Ok(tools
        .join("cargo-target/wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_"))))
}
