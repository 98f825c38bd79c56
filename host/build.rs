//! Builds the guest handler — and the handlers the tests use as fixtures — for
//! `wasm32-wasip2`, so that the host embeds the default handler and `cargo run` needs
//! no other step.
//!
//! The nested cargo gets its own target directory (sharing ours deadlocks on cargo's
//! lock) and a clean environment: the flags cargo hands to build scripts are meant for
//! the host and would silently override the wasm ones.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_owned();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    // OUT_DIR is <target>/<profile>/build/sandserve-<hash>/out.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map(|t| t.join("wasm-guests"))
        .unwrap_or_else(|| out_dir.join("wasm-guests"));

    for path in ["guest", "wit", "tests/fixtures", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }

    // Toolchains without the wasm target (the nightly that cargo-fuzz needs) can use
    // guests that a normal build already made: SANDSERVE_PREBUILT_GUESTS=<dir of .wasm>.
    println!("cargo:rerun-if-env-changed=SANDSERVE_PREBUILT_GUESTS");
    if let Some(dir) = std::env::var_os("SANDSERVE_PREBUILT_GUESTS") {
        let dir = PathBuf::from(dir);
        export("SANDSERVE_GUEST_WASM", &dir.join("sandserve_guest.wasm"));
        export("SANDSERVE_HOSTILE_WASM", &dir.join("hostile_fixture.wasm"));
        export("SANDSERVE_NAIVE_WASM", &dir.join("naive_fixture.wasm"));
        export(
            "SANDSERVE_TRAPPING_WASM",
            &dir.join("trapping_fixture.wasm"),
        );
        return;
    }

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&workspace)
        .args(["build", "--release", "--target", TARGET])
        .args([
            "-p",
            "sandserve-guest",
            "-p",
            "hostile-fixture",
            "-p",
            "naive-fixture",
            "-p",
            "trapping-fixture",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        // Small, fast guests: one codegen unit, LTO, no unwinding, no symbols.
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
        // A 64 KiB shadow stack instead of 1 MiB: every page an instance touches must be
        // reset before its slot is reused, and a compact memory is cheaper to scan.
        // Overflowing it traps (the stack sits below the data), it cannot corrupt.
        .env(
            "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
            "-C link-arg=-zstack-size=65536",
        )
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
            "sandserve: building the guest for {TARGET} failed. If the target is missing, \
             run `rustup target add {TARGET}` (this machine does not fetch it by itself)."
        );
    }

    let wasm_dir = target_dir.join(TARGET).join("release");
    export(
        "SANDSERVE_GUEST_WASM",
        &wasm_dir.join("sandserve_guest.wasm"),
    );
    export(
        "SANDSERVE_HOSTILE_WASM",
        &wasm_dir.join("hostile_fixture.wasm"),
    );
    export("SANDSERVE_NAIVE_WASM", &wasm_dir.join("naive_fixture.wasm"));
    export(
        "SANDSERVE_TRAPPING_WASM",
        &wasm_dir.join("trapping_fixture.wasm"),
    );
}

fn export(var: &str, path: &Path) {
    assert!(path.exists(), "{} was not built", path.display());
    println!("cargo:rustc-env={var}={}", path.display());
}
