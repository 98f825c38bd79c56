//! The compressed forms' settings (`--compress-*`), checked: the budget, the file sizes
//! and the jobs `compress` is bounded by, and the media types the handler is told to
//! ask forms for (`policy.compress`).

use std::path::Path;

use anyhow::{Result, bail};

use crate::compress::{self, store};
use crate::settings::cli::Args;

/// `--compress-type`'s default: the text formats browsers fetch most, and WASM.
pub const DEFAULT_TYPES: &[&str] = &[
    "text/*",
    "application/javascript",
    "application/json",
    "application/xml",
    "image/svg+xml",
    "application/wasm",
    "application/manifest+json",
];

/// The `--compress-*` flags.
#[derive(Debug, Clone)]
pub struct Compress {
    pub cache_max: u64,
    pub min: u64,
    pub max: u64,
    pub jobs: usize,
    /// For the handler's policy.
    pub types: Vec<String>,
}

impl Compress {
    pub fn from_args(args: &Args) -> Result<Compress> {
        if !(1..=64).contains(&args.compress_jobs) {
            bail!("--compress-jobs {}: must be 1 to 64", args.compress_jobs);
        }
        if args.compress_min > args.compress_max {
            bail!(
                "--compress-min {} is over --compress-max {}",
                args.compress_min,
                args.compress_max
            );
        }
        for t in &args.compress_types {
            let valid = t.split_once('/').is_some_and(|(a, b)| {
                let token = |s: &str| {
                    !s.is_empty()
                        && s.bytes()
                            .all(|c| c.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&c))
                };
                token(a) && (b == "*" || token(b))
            });
            if !valid {
                bail!("--compress-type {t:?}: not a media type (type/subtype or type/*)");
            }
        }
        let types = if args.compress_types.is_empty() {
            DEFAULT_TYPES.iter().map(|t| t.to_string()).collect()
        } else {
            args.compress_types
                .iter()
                .map(|t| t.to_ascii_lowercase())
                .collect()
        };
        Ok(Compress {
            cache_max: args.compress_cache_max as u64,
            min: args.compress_min as u64,
            max: args.compress_max as u64,
            jobs: args.compress_jobs,
            types,
        })
    }

    /// The store's settings: on disk below `cache_dir`, or in memory without one.
    pub fn settings(&self, cache_dir: Option<&Path>) -> compress::Settings {
        compress::Settings {
            cache_max: self.cache_max,
            min: self.min,
            max: self.max,
            jobs: self.jobs,
            place: cache_dir.map_or(store::Place::Memory, store::on_disk),
        }
    }
}
