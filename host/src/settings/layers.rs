//! Where each server setting comes from, and which wins: a flag, then its
//! `SANDSERVE_<FLAG>` environment variable, then the `--config` TOML file (`file`), then
//! the default. `resolve` merges them into the `Args` that `config` checks and remembers
//! each value's origin, for `--print-config` and for errors that name the file's line.
//!
//! The merge is clap's own: the file's values become flags placed before the command
//! line's, for the settings neither the command line nor the environment set, so every
//! value goes through the same parser whatever its layer.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};

use crate::settings::cli::{Args, Cli, clap_line};
use crate::settings::file;
use crate::settings::keys::{KEYS, Key, Kind};

/// The command line as parsed, with `SANDSERVE_<FLAG>` for each server flag. A repeatable
/// flag takes one value per line of its variable (as the wasi:http adapter reads them).
pub fn command() -> clap::Command {
    Cli::command().mut_args(|arg| {
        let Some(long) = arg.get_long().filter(|l| !["help", "version"].contains(l)) else {
            return arg;
        };
        let name = format!("SANDSERVE_{}", long.to_uppercase().replace('-', "_"));
        let repeatable = matches!(arg.get_action(), ArgAction::Append);
        let arg = arg.env(name);
        if repeatable {
            arg.value_delimiter('\n')
        } else {
            arg
        }
    })
}

/// Settings that exclude each other: one set by a flag or variable drops the other
/// from the file; both set by flags or variables are refused by `config`.
const EXCLUSIVE: &[(&str, &str)] = &[("cache_dir", "no_cache")];

/// Where one setting's value came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    Flag,
    Env,
    /// The file and the line of each value.
    File(PathBuf, Vec<(String, usize)>),
    Default,
    Unset,
}

/// The merged server flags and where each came from.
pub struct Resolved {
    pub args: Args,
    matches: ArgMatches,
    origins: HashMap<&'static str, Origin>,
}

/// Merges the layers for `argv` (the process's arguments, as given); reads the file.
pub fn resolve(argv: &[OsString]) -> Result<Resolved> {
    let first = command()
        .try_get_matches_from(argv)
        .map_err(|e| anyhow!(clap_line(&e)))?;
    let mut injected: HashMap<&'static str, file::Given> = HashMap::new();
    let mut merged: Vec<OsString> = argv.first().into_iter().cloned().collect();
    // A flag or variable outranks the file: its value stays where it is, and so does
    // one for a setting that excludes this one (`--no-cache` a file's `cache_dir`).
    let outranked = |id: &str| {
        matches!(
            first.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let set = |id: &str| {
        first
            .get_raw(id)
            .is_some_and(|mut v| v.any(|v| v != "false"))
    };
    if let Some(path) = first.get_one::<PathBuf>("config") {
        for given in file::read(path)? {
            let key = given.key;
            let partner = EXCLUSIVE
                .iter()
                .find_map(|&(a, b)| (a == key.id).then_some(b).or((b == key.id).then_some(a)));
            if outranked(key.id) || partner.is_some_and(|p| outranked(p) && set(p)) {
                continue;
            }
            merged.extend(key.flags(&given.values));
            injected.insert(key.id, given);
        }
    }
    merged.extend(argv.iter().skip(1).cloned());
    let matches = command()
        .try_get_matches_from(&merged)
        .map_err(|e| anyhow!(clap_line(&e)))?;
    let args = Args::from_arg_matches(&matches).map_err(|e| anyhow!(clap_line(&e)))?;
    let origins = KEYS
        .iter()
        .map(|key| {
            let origin = match (injected.remove(key.id), matches.value_source(key.id)) {
                (Some(given), _) => Origin::File(given.path, given.values),
                (None, Some(ValueSource::CommandLine)) => Origin::Flag,
                (None, Some(ValueSource::EnvVariable)) => Origin::Env,
                (None, Some(_)) => Origin::Default,
                (None, None) => Origin::Unset,
            };
            (key.id, origin)
        })
        .collect();
    Ok(Resolved {
        args,
        matches,
        origins,
    })
}

impl Resolved {
    /// Each setting's effective value, rendered as the file writes it, in the file's
    /// order: (key, TOML text or `None` when unset).
    pub fn values(&self) -> Vec<(&'static Key, Option<String>)> {
        KEYS.iter()
            .map(|key| {
                let raw: Vec<String> = match key.kind {
                    Kind::Switch => vec![self.matches.get_flag(key.id).to_string()],
                    _ => self
                        .matches
                        .get_raw(key.id)
                        .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
                        .unwrap_or_default(),
                };
                (key, key.render(&raw))
            })
            .collect()
    }

    pub fn origin(&self, key: &Key) -> &Origin {
        self.origins.get(key.id).unwrap_or(&Origin::Unset)
    }

    /// `--print-config`: the effective configuration as a file that `--config` reads
    /// back, each value followed by its origin.
    pub fn print(&self) -> String {
        let mut out = String::from(
            "# sandserve's effective configuration: each value's origin follows it\n\
             # (flag, environment variable, file:line or default).\n",
        );
        let mut section = "";
        for (key, value) in self.values() {
            if key.section != section && !key.kind.is_table() {
                out.push_str(&format!("\n[{}]\n", key.section));
                section = key.section;
            }
            let origin = match self.origin(key) {
                Origin::Flag => format!("flag --{}", key.long()),
                Origin::Env => format!("environment {}", key.env()),
                Origin::File(path, values) => {
                    format!("{}:{}", path.display(), values.first().map_or(0, |v| v.1))
                }
                Origin::Default => "default".to_owned(),
                Origin::Unset => "unset".to_owned(),
            };
            match value {
                Some(text) if key.kind.is_table() => {
                    out.push_str(&format!("\n# {}: {origin}\n{text}", key.name()));
                }
                Some(text) => out.push_str(&format!("{} = {text}  # {origin}\n", key.key)),
                None => out.push_str(&format!("# {} is unset\n", key.name())),
            }
        }
        out
    }

    /// `error` from `config`, which names a flag first (`--header x: …`), with the file
    /// and line in front when the file gave that flag's value.
    pub fn locate(&self, error: anyhow::Error) -> anyhow::Error {
        let text = error.to_string();
        let flag = text.split([' ', ':']).next().unwrap_or("");
        let Some(key) = KEYS.iter().find(|k| format!("--{}", k.long()) == flag) else {
            return error;
        };
        match self.origin(key) {
            Origin::File(path, values) => {
                let line = values
                    .iter()
                    .find(|(value, _)| text.contains(value.as_str()))
                    .or(values.first())
                    .map_or(0, |v| v.1);
                error.context(format!("{}:{line}: {}", path.display(), key.name()))
            }
            Origin::Env => error.context(key.env()),
            _ => error,
        }
    }
}
