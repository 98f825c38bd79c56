//! The documents hold together: every flag of `sandserve --help` is documented exactly
//! once in docs/configuration.md's table and the table names no flag the binary lacks;
//! every relative link in README.md, SECURITY.md, BENCHMARKS.md and docs/ points at a
//! file of the repository; README.md stays a front door (under 150 lines, the two
//! set-up commands first).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The long flags `--help` lists (its option lines start with spaces and a dash).
fn help_flags() -> Vec<String> {
    let out = Command::new(common::BIN).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut flags = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        let line = line.strip_prefix("-q, ").unwrap_or(line);
        if let Some(rest) = line.strip_prefix("--") {
            let flag: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if flag != "help" && flag != "version" {
                flags.push(flag);
            }
        }
    }
    flags
}

#[test]
fn every_flag_is_documented_once_and_only_real_flags_are() {
    let doc = std::fs::read_to_string(repo().join("docs/configuration.md")).unwrap();
    let mut rows: BTreeMap<String, usize> = BTreeMap::new();
    for line in doc.lines() {
        if let Some(rest) = line.strip_prefix("| `--") {
            let flag: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            *rows.entry(flag).or_default() += 1;
        }
    }
    let flags = help_flags();
    assert!(flags.len() > 40, "{flags:?}");
    for flag in &flags {
        assert_eq!(
            rows.get(flag),
            Some(&1),
            "--{flag}: documented {:?} times",
            rows.get(flag)
        );
    }
    for flag in rows.keys() {
        assert!(
            flags.contains(flag),
            "docs/configuration.md documents --{flag}, which --help lacks"
        );
    }
}

#[test]
fn every_link_to_a_file_resolves() {
    let root = repo();
    let mut files: Vec<PathBuf> = ["README.md", "SECURITY.md", "BENCHMARKS.md"]
        .iter()
        .map(|f| root.join(f))
        .collect();
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        files.push(entry.unwrap().path());
    }
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let target = &rest[..rest.find(')').unwrap_or(0)];
            let target = target.split('#').next().unwrap_or("");
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            if !file.parent().unwrap().join(target).exists() {
                broken.push(format!("{}: {target}", file.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to nothing:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_readme_is_a_front_door() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines < 150, "README.md has {lines} lines");
    let first_block = readme.split("```sh\n").nth(1).unwrap();
    let commands: Vec<&str> = first_block.lines().take(2).collect();
    assert!(commands[0].contains("cargo run --release"), "{commands:?}");
    assert!(
        commands[1].contains("cargo test --release --workspace"),
        "{commands:?}"
    );
    // .ci/run runs the second command exactly.
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    let test_command = commands[1].split("   #").next().unwrap().trim();
    assert!(ci.contains(test_command), "{test_command}");
}
