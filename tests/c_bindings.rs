//! The committed C bindings of the `sandserve` world (`guest/c/gen/`, made by
//! `guest/c/regen-bindings`) must come from `wit/sandserve.wit` as it is now: the first
//! line of `sandserve.h` and `sandserve.c` records the sha256 of the WIT they were made
//! from, and a WIT changed since (a new package version, a doc comment) fails here, so
//! that C handlers are never built against a contract the host no longer has. CI never
//! runs wit-bindgen-cli; whoever changes the WIT reruns the script and commits `gen/`.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// How the first line of each generated source begins; the hash and
/// ` by wit-bindgen-cli VERSION` follow.
const STAMP: &str = "// sandserve-bindings: wit/sandserve.wit sha256 ";

fn top() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            write!(hex, "{b:02x}").expect("a String takes any text");
            hex
        })
}

/// The hash and the wit-bindgen-cli version that the first line of `file` records.
fn recorded(file: &Path) -> (String, String) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run guest/c/regen-bindings and commit guest/c/gen/",
            file.display()
        )
    });
    let first = text.lines().next().unwrap_or_default();
    let fields = first
        .strip_prefix(STAMP)
        .and_then(|rest| rest.split_once(" by wit-bindgen-cli "));
    let Some((hash, version)) = fields else {
        panic!(
            "{}: the first line is not `{STAMP}<sha256> by wit-bindgen-cli <version>` but \
             {first:?}; run guest/c/regen-bindings (it writes that line) and commit guest/c/gen/",
            file.display()
        );
    };
    (hash.to_owned(), version.to_owned())
}

#[test]
fn c_bindings_were_made_from_the_current_wit() {
    let top = top();
    let wit = top.join("wit/sandserve.wit");
    let bytes = std::fs::read(&wit).unwrap_or_else(|e| panic!("{}: {e}", wit.display()));
    let now = sha256_hex(&bytes);
    let gen_dir = top.join("guest/c/gen");
    for name in ["sandserve.h", "sandserve.c"] {
        let (hash, version) = recorded(&gen_dir.join(name));
        assert_eq!(
            hash, now,
            "guest/c/gen/{name} was made from another wit/sandserve.wit (sha256 {hash}; the \
             WIT's is now {now}): run guest/c/regen-bindings with wit-bindgen-cli {version} \
             (WIT_BINDGEN=PATH, default target/tools/wit-bindgen/bin/wit-bindgen) and commit \
             guest/c/gen/"
        );
    }
    let object = gen_dir.join("sandserve_component_type.o");
    let size = std::fs::metadata(&object).map_or(0, |m| m.len());
    assert!(
        size > 0,
        "{} is missing or empty: run guest/c/regen-bindings and commit guest/c/gen/",
        object.display()
    );
    // The object carries the world's type for `wasm-tools component new`: it must name
    // the WIT's package as it is now (the stamp above cannot vouch for a binary).
    let text = String::from_utf8_lossy(&bytes);
    let package = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("package "))
        .map(|p| p.trim_end_matches(';').trim().to_owned())
        .expect("wit/sandserve.wit names its package");
    let (name, version) = package.split_once('@').expect("a versioned package");
    let handler = format!("{name}/handler@{version}");
    let object_bytes = std::fs::read(&object).unwrap();
    assert!(
        object_bytes
            .windows(handler.len())
            .any(|w| w == handler.as_bytes()),
        "{} does not name {handler}: run guest/c/regen-bindings and commit guest/c/gen/",
        object.display()
    );
}
