//! Builds the guest handler — and the handlers the tests use as fixtures — as
//! components, so that the host embeds the default handler and `cargo run` needs no
//! other step.
//!
//! The nested cargo gets its own target directory (sharing ours deadlocks on cargo's
//! lock) and a clean environment: the flags cargo hands to build scripts are meant for
//! the host and would silently override the wasm ones.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A 64 KiB shadow stack instead of 1 MiB: every page an instance touches must be reset
/// before its slot is reused, and a compact memory is cheaper to scan. Overflowing it
/// traps (the stack sits below the data), it cannot corrupt.
const STACK: &str = "-C link-arg=-zstack-size=65536";
/// Handlers that import no WASI.
const BARE: &str = "wasm32-unknown-unknown";
/// Handlers that read the root through WASI.
const WASI: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_owned();
    codecs(&workspace);
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    // OUT_DIR is <target>/<profile>/build/sandserve-<hash>/out.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map(|t| t.join("wasm-guests"))
        .unwrap_or_else(|| out_dir.join("wasm-guests"));

    // The Rust guests only: a change to a Python or JavaScript handler (built by
    // guest/build-handlers) must not rebuild the host.
    for path in [
        "guest/core",
        "guest/world",
        "wit",
        "tests/fixtures/hostile",
        "tests/fixtures/naive",
        "tests/fixtures/trapping",
        "tests/fixtures/prober",
        "tests/fixtures/stalling",
        "tests/fixtures/slowstart",
        "tests/fixtures/looker",
        "tests/fixtures/former",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }

    // Toolchains without the wasm target (the nightly that cargo-fuzz needs) can use
    // guests that a normal build already made:
    // SANDSERVE_PREBUILT_GUESTS=<target>/wasm-guests/components.
    println!("cargo:rerun-if-env-changed=SANDSERVE_PREBUILT_GUESTS");
    if let Some(dir) = std::env::var_os("SANDSERVE_PREBUILT_GUESTS") {
        export_all(&PathBuf::from(dir));
        return;
    }

    // The built-in handler, the 0.5.0 fixture (former), the 0.4.0 one (looker) and the 0.3.0 ones (prober,
    // slowstart) import nothing of WASI: they are built for wasm32-unknown-unknown,
    // whose std makes no system calls, and made components here. The 0.2.0 fixtures
    // read the root through WASI, as handlers of that contract must, and the stalling
    // fixture (0.3.0) blocks in WASI: wasm32-wasip2, which makes components by itself.
    // 512 KiB of initial memory: room for a request's allocations without growing
    // the memory (see guest/world/src/arena.rs); pages never touched cost nothing to reset.
    let bare = build(
        &workspace,
        &target_dir,
        BARE,
        &[
            "sandserve-guest",
            "prober-fixture",
            "slowstart-fixture",
            "looker-fixture",
            "former-fixture",
        ],
        &[STACK, "-C link-arg=--initial-memory=524288"],
    );
    let wasi = build(
        &workspace,
        &target_dir,
        WASI,
        &[
            "hostile-fixture",
            "naive-fixture",
            "trapping-fixture",
            "stalling-fixture",
        ],
        &[STACK],
    );
    // Every component in one directory, under its package's name: what the tests and
    // SANDSERVE_PREBUILT_GUESTS use.
    let components = target_dir.join("components");
    std::fs::create_dir_all(&components).unwrap();
    for name in [
        "sandserve_guest",
        "prober_fixture",
        "slowstart_fixture",
        "looker_fixture",
        "former_fixture",
    ] {
        copy(
            &componentize(&bare, name),
            &components.join(format!("{name}.wasm")),
        );
    }
    for name in [
        "hostile_fixture",
        "naive_fixture",
        "trapping_fixture",
        "stalling_fixture",
    ] {
        copy(
            &wasi.join(format!("{name}.wasm")),
            &components.join(format!("{name}.wasm")),
        );
    }
    export_all(&components);
}

/// Builds `packages` for `target` in release mode; returns where the `.wasm` files are.
fn build(
    workspace: &Path,
    target_dir: &Path,
    target: &str,
    packages: &[&str],
    rustflags: &[&str],
) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let flags_var = format!(
        "CARGO_TARGET_{}_RUSTFLAGS",
        target.to_uppercase().replace('-', "_")
    );
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--release", "--target", target]);
    for package in packages {
        command.args(["-p", package]);
    }
    let status = command
        .arg("--target-dir")
        .arg(target_dir)
        // Small, fast guests: one codegen unit, LTO, no unwinding, no symbols.
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
        .env(flags_var, rustflags.join(" "))
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_MAKEFLAGS")
        .status()
        .expect("sandserve: cannot run cargo to build the guest");
    if !status.success() {
        panic!(
            "sandserve: building the guest for {target} failed. If the target is missing, \
             run `rustup target add {WASI} {BARE}` (this machine does not fetch it by itself)."
        );
    }
    target_dir.join(target).join("release")
}

/// Wraps the core module `<dir>/<name>.wasm` that wit-bindgen annotated with its world
/// into a component (what `wasm-tools component new` does), next to it.
fn componentize(dir: &Path, name: &str) -> PathBuf {
    let module = dir.join(format!("{name}.wasm"));
    let bytes = std::fs::read(&module)
        .unwrap_or_else(|e| panic!("sandserve: cannot read {}: {e}", module.display()));
    let component = wit_component::ComponentEncoder::default()
        .module(&bytes)
        .and_then(|encoder| encoder.validate(true).encode())
        .unwrap_or_else(|e| panic!("sandserve: {} is not a component: {e:#}", module.display()));
    let out = dir.join(format!("{name}.component.wasm"));
    std::fs::write(&out, component)
        .unwrap_or_else(|e| panic!("sandserve: cannot write {}: {e}", out.display()));
    out
}

/// The compressors' versions, from Cargo.lock, for the compressed forms' tag: a form's
/// entity tag promises its bytes, and another encoder version may make other bytes.
fn codecs(workspace: &Path) {
    let lock = std::fs::read_to_string(workspace.join("Cargo.lock")).unwrap_or_default();
    let mut versions = Vec::new();
    for name in ["brotli", "zstd-sys", "flate2", "miniz_oxide"] {
        let version = lock
            .split("[[package]]")
            .find(|p| p.contains(&format!("\nname = \"{name}\"\n")))
            .and_then(|p| p.split("version = \"").nth(1))
            .and_then(|v| v.split('"').next())
            .unwrap_or("?");
        versions.push(format!("{name} {version}"));
    }
    println!("cargo:rustc-env=SANDSERVE_CODECS={}", versions.join(", "));
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("sandserve: cannot copy {}: {e}", from.display()));
}

/// Tells the host where each component is.
fn export_all(dir: &Path) {
    for (var, name) in [
        ("SANDSERVE_GUEST_WASM", "sandserve_guest"),
        ("SANDSERVE_PROBER_WASM", "prober_fixture"),
        ("SANDSERVE_SLOWSTART_WASM", "slowstart_fixture"),
        ("SANDSERVE_LOOKER_WASM", "looker_fixture"),
        ("SANDSERVE_FORMER_WASM", "former_fixture"),
        ("SANDSERVE_HOSTILE_WASM", "hostile_fixture"),
        ("SANDSERVE_NAIVE_WASM", "naive_fixture"),
        ("SANDSERVE_TRAPPING_WASM", "trapping_fixture"),
        ("SANDSERVE_STALLING_WASM", "stalling_fixture"),
    ] {
        export(var, &dir.join(format!("{name}.wasm")));
    }
}

fn export(var: &str, path: &Path) {
    assert!(path.exists(), "{} was not built", path.display());
    println!("cargo:rustc-env={var}={}", path.display());
}
