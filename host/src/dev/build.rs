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
    let core = project.out.with_extension("wasm.core");
    // Whatever is there (a planted link included) goes: the tools write through names.
    for leftover in [&tmp, &core] {
        let _ = std::fs::remove_file(leftover);
    }
    // Installs happen under the cache's exclusive lock; builds share it.
    let tools = Tools::open()?;
    let steps = steps(project, &tools, &tmp, &core)?;
    tools.share()?;
    let started = Instant::now();
    let outcome = match project.lang {
        Lang::Rust => rust(project, &tools, &tmp),
        _ => steps
            .into_iter()
            .try_for_each(|mut step| run_shown(&mut step)),
    };
    let _ = std::fs::remove_file(&core);
    if let Err(e) = outcome {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &project.out)
        .with_context(|| format!("cannot write {}", project.out.display()))?;
    Ok(started.elapsed())
}

/// Cargo, into the tools cache's one target folder (dependencies compiled once for
/// every project), one build at a time: the component is the artifact cargo names for
/// this manifest, copied out before another build can replace it.
fn rust(project: &Project, tools: &Tools, tmp: &Path) -> Result<()> {
    let target = tools.cargo_target();
    std::fs::create_dir_all(&target)?;
    let lock = std::fs::File::create(target.join(".sandserve-lock"))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)?;
    let mut cargo = Command::new("cargo");
    cargo
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .arg("--message-format=json-render-diagnostics")
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&project.dir)
        .stdout(std::process::Stdio::piped());
    let messages = toolchain::run_captured(&mut cargo)?;
    let manifest = project.dir.join("Cargo.toml").canonicalize()?;
    let built = messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| m["manifest_path"].as_str().map(Path::new) == Some(&manifest))
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
        })
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .context("cargo built no .wasm for this project (is it a cdylib?)")?;
    std::fs::copy(&built, tmp).with_context(|| format!("cannot copy {}", built.display()))?;
    Ok(())
}

/// The commands that build `project` into `tmp`, its toolchain installed first.
fn steps(project: &Project, tools: &Tools, tmp: &Path, core: &Path) -> Result<Vec<Command>> {
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
        // Built by `rust`, which reads cargo's messages.
        Lang::Rust => {}
        Lang::C => {
            let clang = toolchain::clang()?;
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
                .arg(core);
            let mut component = Command::new(tools.wasm_tools()?);
            component
                .args(["component", "new"])
                .arg(core)
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
