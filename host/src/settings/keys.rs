//! Which key of the `--config` file is which flag (`KEYS`): where it sits (a section),
//! what its value is (`Kind`), whether SIGHUP can apply a change of it (`live`), and how
//! a value is written as a flag (`flags`) and as TOML (`render`, for `--print-config`).
//!
//! Every flag has a key: server-wide ones at the top, the rest in `[site]`, `[limits]`,
//! `[swap]`, `[log]` and `[tls]` (the flag's name, in snake case, less the section's
//! prefix), `[headers]` (`"Name" = "value"`), `[[cache_rule]]` (`glob`, `value`) and
//! `[[mount]]` (`prefix`, `handler`).

use std::ffi::OsString;

/// What a key's value is in the file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Text,
    /// Text, relative to the file's directory.
    Path,
    Number,
    Switch,
    /// `"250ms"` or a number of seconds; `"64MiB"` or a number of bytes; `"10%"`.
    Unit,
    /// An array of strings.
    List,
    /// `[headers]`, `[[cache_rule]]`, `[[mount]]`: tables of their own.
    Headers,
    CacheRules,
    Mounts,
}

impl Kind {
    pub fn is_table(self) -> bool {
        matches!(self, Kind::Headers | Kind::CacheRules | Kind::Mounts)
    }
}

/// One setting: where it is in the file and which flag it is.
#[derive(Debug)]
pub struct Key {
    /// `""` for the top level (and for the table kinds, which are their own).
    pub section: &'static str,
    pub key: &'static str,
    /// clap's id of the flag (its field in `cli::Args`).
    pub id: &'static str,
    long: &'static str,
    pub kind: Kind,
    /// SIGHUP applies a change of it without a restart.
    pub live: bool,
}

const fn key(
    section: &'static str,
    key: &'static str,
    id: &'static str,
    long: &'static str,
    kind: Kind,
    live: bool,
) -> Key {
    Key {
        section,
        key,
        id,
        long,
        kind,
        live,
    }
}

use Kind::*;

/// Every server flag, in the order `--print-config` writes them.
#[rustfmt::skip]
pub const KEYS: &[Key] = &[
    key("",       "root",                  "root",                  "root",                  Path,       false),
    key("",       "listen",                "listen",                "listen",                Text,       false),
    key("",       "handler",               "handler",               "handler",               Path,       true),
    key("",       "workers",               "workers",               "workers",               Number,     false),
    key("",       "admin",                 "admin",                 "admin",                 Path,       false),
    key("",       "metrics",               "metrics",               "metrics",               Text,       false),
    key("",       "cache_dir",             "cache_dir",             "cache-dir",             Path,       false),
    key("",       "cache_max",             "cache_max",             "cache-max",             Unit,       false),
    key("",       "no_cache",              "no_cache",              "no-cache",              Switch,     false),
    key("",       "compile",               "compile",               "compile",               Text,       false),
    key("site",   "min_user_agent_len",    "min_user_agent_len",    "min-user-agent-len",    Number,     true),
    key("site",   "serve_dotfiles",        "serve_dotfiles",        "serve-dotfiles",        Switch,     true),
    key("site",   "list_dirs",             "list_dirs",             "list-dirs",             Switch,     true),
    key("site",   "fallback",              "fallback",              "fallback",              Text,       true),
    key("site",   "cache_control",         "cache_control",         "cache-control",         Text,       true),
    key("limits", "handler_timeout",       "handler_timeout",       "handler-timeout",       Unit,       false),
    key("limits", "handler_descriptors",   "handler_descriptors",   "handler-descriptors",   Number,     false),
    key("limits", "instance_wait",         "instance_wait",         "instance-wait",         Unit,       false),
    key("limits", "max_instances",         "max_instances",         "max-instances",         Number,     false),
    key("limits", "slot_instances",        "slot_instances",        "slot-instances",        Number,     false),
    key("limits", "handler_memory",        "handler_memory",        "handler-memory",        Unit,       false),
    key("limits", "handler_keep_resident", "handler_keep_resident", "handler-keep-resident", Unit,       false),
    key("limits", "reuse_instances",       "reuse_instances",       "reuse-instances",       Number,     false),
    key("limits", "header_timeout",        "header_timeout",        "header-timeout",        Unit,       false),
    key("limits", "keepalive_timeout",     "keepalive_timeout",     "keepalive-timeout",     Unit,       false),
    key("limits", "send_timeout",          "send_timeout",          "send-timeout",          Unit,       false),
    key("limits", "shutdown_grace",        "shutdown_grace",        "shutdown-grace",        Unit,       false),
    key("limits", "max_connections",       "max_connections",       "max-connections",       Number,     false),
    key("limits", "max_requests",          "max_requests",          "max-requests",          Number,     false),
    key("limits", "max_discarded_body",    "max_discarded_body",    "max-discarded-body",    Unit,       false),
    key("limits", "max_handler_size",      "max_handler_size",      "max-handler-size",      Unit,       false),
    key("swap",   "watch",                 "watch",                 "watch",                 Switch,     false),
    key("swap",   "check_timeout",         "swap_check_timeout",    "swap-check-timeout",    Unit,       false),
    key("swap",   "shadow_requests",       "shadow_requests",       "shadow-requests",       Number,     false),
    key("swap",   "keep_versions",         "keep_versions",         "keep-versions",         Number,     false),
    key("swap",   "rollback_window",       "rollback_window",       "rollback-window",       Unit,       false),
    key("swap",   "rollback_requests",     "rollback_requests",     "rollback-requests",     Number,     false),
    key("swap",   "rollback_threshold",    "rollback_threshold",    "rollback-threshold",    Unit,       false),
    key("log",    "access_log",            "access_log",            "access-log",            Text,       true),
    key("log",    "access_log_file",       "access_log_file",       "access-log-file",       Path,       true),
    key("log",    "quiet",                 "quiet",                 "quiet",                 Switch,     true),
    key("log",    "record",                "record",                "record",                Path,       false),
    key("log",    "record_keep",           "record_keep",           "record-keep",           List,       false),
    key("log",    "handler_output",        "handler_output",        "handler-output",        Unit,       false),
    key("http2",  "h2c",                   "h2c",                   "h2c",                   Switch,     false),
    key("http2",  "max_streams",           "h2_max_streams",        "h2-max-streams",        Number,     false),
    key("http2",  "max_header_list",       "h2_max_header_list",    "h2-max-header-list",    Unit,       false),
    key("http2",  "max_frame_size",        "h2_max_frame_size",     "h2-max-frame-size",     Unit,       false),
    key("http2",  "window",                "h2_window",             "h2-window",             Unit,       false),
    key("http2",  "max_send_buffer",       "h2_max_send_buffer",    "h2-max-send-buffer",    Unit,       false),
    key("http2",  "max_pending_resets",    "h2_max_pending_resets", "h2-max-pending-resets", Number,     false),
    key("http2",  "max_error_resets",      "h2_max_error_resets",   "h2-max-error-resets",   Number,     false),
    key("http2",  "max_resets",            "h2_max_resets",         "h2-max-resets",         Number,     false),
    key("http2",  "max_calls",             "h2_max_calls",          "h2-max-calls",          Number,     false),
    key("compress", "cache_max",           "compress_cache_max",    "compress-cache-max",    Unit,       false),
    key("compress", "min",                 "compress_min",          "compress-min",          Unit,       false),
    key("compress", "max",                 "compress_max",          "compress-max",          Unit,       false),
    key("compress", "jobs",                "compress_jobs",         "compress-jobs",         Number,     false),
    key("compress", "types",               "compress_types",        "compress-type",         List,       true),
    key("tls",    "cert",                  "tls_cert",              "tls-cert",              Path,       true),
    key("tls",    "key",                   "tls_key",               "tls-key",               Path,       true),
    key("tls",    "handshake_timeout",     "tls_handshake_timeout", "tls-handshake-timeout", Unit,       false),
    key("",       "headers",               "headers",               "header",                Headers,    true),
    key("",       "cache_rule",            "cache_rules",           "cache-rule",            CacheRules, true),
    key("",       "mount",                 "mounts",                "mount",                 Mounts,     false),
];

pub const SECTIONS: &[&str] = &["site", "limits", "swap", "log", "http2", "compress", "tls"];

impl Key {
    pub fn long(&self) -> &'static str {
        self.long
    }

    pub fn env(&self) -> String {
        format!("SANDSERVE_{}", self.long.to_uppercase().replace('-', "_"))
    }

    /// `limits.max_requests`, as errors and logs name it.
    pub fn name(&self) -> String {
        match self.section {
            "" => self.key.to_owned(),
            section => format!("{section}.{}", self.key),
        }
    }

    /// The flags that give this key `values` (flag syntax: `PREFIX=FILE`, `Name: value`).
    pub fn flags(&self, values: &[(String, usize)]) -> Vec<OsString> {
        match self.kind {
            Switch if values.iter().any(|(v, _)| v == "true") => {
                vec![format!("--{}", self.long).into()]
            }
            Switch => Vec::new(),
            _ => values
                .iter()
                .map(|(v, _)| format!("--{}={v}", self.long).into())
                .collect(),
        }
    }

    /// The value as the file writes it, from the flag's raw values; `None` when unset.
    pub fn render(&self, raw: &[String]) -> Option<String> {
        let first = raw.first()?;
        Some(match self.kind {
            Text | Unit => quote(first),
            // Absolute, so that the printed file means the same read from anywhere.
            Path => quote(&absolute(first)),
            // As parsed: `010` is a number to the flag's parser, not to TOML.
            Number => first
                .parse::<i128>()
                .map_or_else(|_| quote(first), |n| n.to_string()),
            Switch => first.clone(),
            List => format!(
                "[{}]",
                raw.iter().map(|v| quote(v)).collect::<Vec<_>>().join(", ")
            ),
            Headers => {
                // A field given more than once is one key with an array (TOML keys are unique).
                let mut fields: Vec<(&str, Vec<String>)> = Vec::new();
                for header in raw {
                    let (name, value) = header.split_once(':').unwrap_or((header, ""));
                    let value = quote(value.trim());
                    match fields.iter_mut().find(|(n, _)| *n == name.trim()) {
                        Some((_, values)) => values.push(value),
                        None => fields.push((name.trim(), vec![value])),
                    }
                }
                let mut out = String::from("[headers]\n");
                for (name, values) in fields {
                    let value = match &values[..] {
                        [one] => one.clone(),
                        many => format!("[{}]", many.join(", ")),
                    };
                    out.push_str(&format!("{} = {value}\n", quote(name)));
                }
                out
            }
            CacheRules | Mounts => {
                let (table, left, right) = match self.kind {
                    CacheRules => ("cache_rule", "glob", "value"),
                    _ => ("mount", "prefix", "handler"),
                };
                raw.iter()
                    .map(|text| {
                        let (a, b) = text.split_once('=').unwrap_or((text, ""));
                        let b = if self.kind == Mounts {
                            absolute(b)
                        } else {
                            b.to_owned()
                        };
                        format!(
                            "[[{table}]]\n{left} = {}\n{right} = {}\n",
                            quote(a),
                            quote(&b)
                        )
                    })
                    .collect()
            }
        })
    }
}

fn absolute(path: &str) -> String {
    std::path::absolute(path).map_or_else(|_| path.to_owned(), |p| p.display().to_string())
}

fn quote(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}
