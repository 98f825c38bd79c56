//! The `--config` TOML file: which key is which flag (`KEYS`), and reading a file into
//! flag values, each with its line. Unknown keys, wrong types and bad values are refused
//! with the file, line and key named; paths in the file are relative to its directory.
//!
//! Every flag has a key: server-wide ones at the top, the rest in `[site]`, `[limits]`,
//! `[swap]`, `[log]` and `[tls]` (the flag's name, in snake case, less the section's
//! prefix), `[headers]` (`"Name" = "value"`), `[[cache_rule]]` (`glob`, `value`) and
//! `[[mount]]` (`prefix`, `handler`).

use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::CommandFactory;
use clap::error::ErrorKind;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::cli::Cli;

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
pub const KEYS: &[Key] = &[
    key("", "root", "root", "root", Path, false),
    key("", "listen", "listen", "listen", Text, false),
    key("", "handler", "handler", "handler", Path, true),
    key("", "workers", "workers", "workers", Number, false),
    key("", "admin", "admin", "admin", Path, false),
    key("", "metrics", "metrics", "metrics", Text, false),
    key("", "cache_dir", "cache_dir", "cache-dir", Path, false),
    key("", "no_cache", "no_cache", "no-cache", Switch, false),
    key(
        "site",
        "min_user_agent_len",
        "min_user_agent_len",
        "min-user-agent-len",
        Number,
        true,
    ),
    key(
        "site",
        "serve_dotfiles",
        "serve_dotfiles",
        "serve-dotfiles",
        Switch,
        true,
    ),
    key("site", "list_dirs", "list_dirs", "list-dirs", Switch, true),
    key("site", "fallback", "fallback", "fallback", Text, true),
    key(
        "site",
        "cache_control",
        "cache_control",
        "cache-control",
        Text,
        true,
    ),
    key(
        "limits",
        "handler_timeout",
        "handler_timeout",
        "handler-timeout",
        Unit,
        false,
    ),
    key(
        "limits",
        "handler_memory",
        "handler_memory",
        "handler-memory",
        Unit,
        false,
    ),
    key(
        "limits",
        "reuse_instances",
        "reuse_instances",
        "reuse-instances",
        Number,
        false,
    ),
    key(
        "limits",
        "header_timeout",
        "header_timeout",
        "header-timeout",
        Unit,
        false,
    ),
    key(
        "limits",
        "keepalive_timeout",
        "keepalive_timeout",
        "keepalive-timeout",
        Unit,
        false,
    ),
    key(
        "limits",
        "send_timeout",
        "send_timeout",
        "send-timeout",
        Unit,
        false,
    ),
    key(
        "limits",
        "shutdown_grace",
        "shutdown_grace",
        "shutdown-grace",
        Unit,
        false,
    ),
    key(
        "limits",
        "max_connections",
        "max_connections",
        "max-connections",
        Number,
        false,
    ),
    key(
        "limits",
        "max_requests",
        "max_requests",
        "max-requests",
        Number,
        false,
    ),
    key(
        "limits",
        "max_discarded_body",
        "max_discarded_body",
        "max-discarded-body",
        Unit,
        false,
    ),
    key(
        "limits",
        "max_handler_size",
        "max_handler_size",
        "max-handler-size",
        Unit,
        false,
    ),
    key("swap", "watch", "watch", "watch", Switch, false),
    key(
        "swap",
        "shadow_requests",
        "shadow_requests",
        "shadow-requests",
        Number,
        false,
    ),
    key(
        "swap",
        "keep_versions",
        "keep_versions",
        "keep-versions",
        Number,
        false,
    ),
    key(
        "swap",
        "rollback_window",
        "rollback_window",
        "rollback-window",
        Unit,
        false,
    ),
    key(
        "swap",
        "rollback_requests",
        "rollback_requests",
        "rollback-requests",
        Number,
        false,
    ),
    key(
        "swap",
        "rollback_threshold",
        "rollback_threshold",
        "rollback-threshold",
        Unit,
        false,
    ),
    key("log", "access_log", "access_log", "access-log", Text, true),
    key(
        "log",
        "access_log_file",
        "access_log_file",
        "access-log-file",
        Path,
        true,
    ),
    key("log", "quiet", "quiet", "quiet", Switch, true),
    key("log", "record", "record", "record", Path, false),
    key(
        "log",
        "record_keep",
        "record_keep",
        "record-keep",
        List,
        false,
    ),
    key("tls", "cert", "tls_cert", "tls-cert", Path, true),
    key("tls", "key", "tls_key", "tls-key", Path, true),
    key(
        "tls",
        "handshake_timeout",
        "tls_handshake_timeout",
        "tls-handshake-timeout",
        Unit,
        false,
    ),
    key("", "headers", "headers", "header", Headers, true),
    key(
        "",
        "cache_rule",
        "cache_rules",
        "cache-rule",
        CacheRules,
        true,
    ),
    key("", "mount", "mounts", "mount", Mounts, false),
];

const SECTIONS: &[&str] = &["site", "limits", "swap", "log", "tls"];

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
            Text | Path | Unit => quote(first),
            Number | Switch => first.clone(),
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
                        format!(
                            "[[{table}]]\n{left} = {}\n{right} = {}\n",
                            quote(a),
                            quote(b)
                        )
                    })
                    .collect()
            }
        })
    }
}

fn quote(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// One key the file sets: its values as flag values, each with its line.
pub struct Given {
    pub key: &'static Key,
    pub path: PathBuf,
    pub values: Vec<(String, usize)>,
}

/// Reads `path` into the values it sets, each checked by its flag's own parser.
pub fn read(path: &Path) -> Result<Vec<Given>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--config {}: cannot read", path.display()))?;
    let path = std::path::absolute(path)?;
    let reader = Reader {
        text: &text,
        path: &path,
        dir: path.parent().unwrap_or(Path::new("/")),
    };
    let doc = DeTable::parse(&text).map_err(|e| {
        let at = reader.at(e.span().unwrap_or(0..0));
        anyhow!("{at}: {}", e.message().trim())
    })?;
    let mut given = Vec::new();
    for (name, value) in doc.get_ref() {
        let name_text: &str = name.get_ref();
        if SECTIONS.contains(&name_text) {
            let DeValue::Table(table) = value.get_ref() else {
                bail!("{}: {name_text}: expected a table", reader.at(value.span()));
            };
            for (inner, value) in table {
                let key = reader.find(name_text, inner)?;
                given.push(reader.value(key, value)?);
            }
        } else {
            let key = reader.find("", name)?;
            given.push(reader.value(key, value)?);
        }
    }
    Ok(given)
}

struct Reader<'a> {
    text: &'a str,
    path: &'a Path,
    dir: &'a Path,
}

impl Reader<'_> {
    /// `FILE:LINE` of a span.
    fn at(&self, span: Range<usize>) -> String {
        format!("{}:{}", self.path.display(), self.line(span))
    }

    fn line(&self, span: Range<usize>) -> usize {
        let start = span.start.min(self.text.len());
        self.text[..start].matches('\n').count() + 1
    }

    fn find(
        &self,
        section: &str,
        name: &Spanned<std::borrow::Cow<'_, str>>,
    ) -> Result<&'static Key> {
        let text: &str = name.get_ref();
        if let Some(key) = KEYS.iter().find(|k| k.section == section && k.key == text) {
            return Ok(key);
        }
        let known: Vec<&str> = KEYS
            .iter()
            .filter(|k| k.section == section)
            .map(|k| k.key)
            .chain(if section.is_empty() {
                SECTIONS.to_vec()
            } else {
                Vec::new()
            })
            .collect();
        let place = if section.is_empty() {
            "at the top".to_owned()
        } else {
            format!("in [{section}]")
        };
        bail!(
            "{}: unknown key `{text}` {place} (known: {})",
            self.at(name.span()),
            known.join(", ")
        )
    }

    /// The flag values of `key` from its TOML value, each checked by the flag's parser.
    fn value(&self, key: &'static Key, value: &Spanned<DeValue<'_>>) -> Result<Given> {
        let line = self.line(value.span());
        let wrong = |expected: &str, found: &DeValue<'_>| {
            anyhow!(
                "{}: {}: expected {expected}, found {}",
                self.at(value.span()),
                key.name(),
                type_name(found)
            )
        };
        let v = value.get_ref();
        let values: Vec<(String, usize)> = match (key.kind, v) {
            (Text | Unit, DeValue::String(s)) => vec![(s.to_string(), line)],
            (Path, DeValue::String(s)) => {
                vec![(self.dir.join(s.as_ref()).display().to_string(), line)]
            }
            (Number | Unit, DeValue::Integer(i)) => {
                let digits = i.as_str().replace('_', "");
                let number =
                    i64::from_str_radix(&digits, i.radix()).map_or(digits, |n| n.to_string());
                vec![(number, line)]
            }
            (Unit, DeValue::Float(f)) => vec![(f.as_str().to_owned(), line)],
            (Switch, DeValue::Boolean(b)) => vec![(b.to_string(), line)],
            (Text | Path, _) => return Err(wrong("a string", v)),
            (Number, _) => return Err(wrong("an integer", v)),
            (Unit, _) => return Err(wrong("a string like \"10s\" or \"64MiB\", or a number", v)),
            (Switch, _) => return Err(wrong("true or false", v)),
            (List, DeValue::Array(items)) => items
                .iter()
                .map(|item| match item.get_ref() {
                    DeValue::String(s) => Ok((s.to_string(), self.line(item.span()))),
                    other => Err(wrong("an array of strings", other)),
                })
                .collect::<Result<_>>()?,
            (List, _) => return Err(wrong("an array of strings", v)),
            (Headers, DeValue::Table(table)) => {
                let mut out = Vec::new();
                for (name, value) in table {
                    let items = match value.get_ref() {
                        DeValue::String(_) => std::slice::from_ref(value),
                        DeValue::Array(items) => &items[..],
                        other => {
                            return Err(wrong("a string or array of strings per field", other));
                        }
                    };
                    for item in items {
                        let DeValue::String(text) = item.get_ref() else {
                            return Err(wrong("a string", item.get_ref()));
                        };
                        let name: &str = name.get_ref();
                        out.push((format!("{name}: {text}"), self.line(item.span())));
                    }
                }
                out
            }
            (Headers, _) => return Err(wrong("a table of \"Name\" = \"value\"", v)),
            (CacheRules | Mounts, DeValue::Array(items)) => items
                .iter()
                .map(|item| self.pair(key, item))
                .collect::<Result<_>>()?,
            (CacheRules | Mounts, _) => return Err(wrong("an array of tables", v)),
        };
        for (text, line) in &values {
            self.check(key, text, *line)?;
        }
        Ok(Given {
            key,
            path: self.path.to_owned(),
            values,
        })
    }

    /// One `[[cache_rule]]` (`glob`, `value`) or `[[mount]]` (`prefix`, `handler`) as
    /// the flag's `A=B`.
    fn pair(&self, key: &Key, item: &Spanned<DeValue<'_>>) -> Result<(String, usize)> {
        let (left, right) = match key.kind {
            CacheRules => ("glob", "value"),
            _ => ("prefix", "handler"),
        };
        let DeValue::Table(table) = item.get_ref() else {
            bail!("{}: {}: expected a table", self.at(item.span()), key.name());
        };
        let mut found = [None, None];
        for (name, value) in table {
            let slot = match name.get_ref().as_ref() {
                n if n == left => 0,
                n if n == right => 1,
                other => bail!(
                    "{}: unknown key `{other}` in [[{}]] (known: {left}, {right})",
                    self.at(name.span()),
                    key.key
                ),
            };
            let DeValue::String(text) = value.get_ref() else {
                bail!(
                    "{}: {}.{}: expected a string, found {}",
                    self.at(value.span()),
                    key.key,
                    name.get_ref(),
                    type_name(value.get_ref())
                );
            };
            found[slot] = Some(text.to_string());
        }
        let [Some(a), Some(b)] = found else {
            bail!(
                "{}: [[{}]] needs both `{left}` and `{right}`",
                self.at(item.span()),
                key.key
            );
        };
        let b = if key.kind == Mounts {
            self.dir.join(b).display().to_string()
        } else {
            b
        };
        Ok((format!("{a}={b}"), self.line(item.span())))
    }

    /// The flag's own parser on one value (units, numbers' ranges), so a bad value is
    /// refused here, where its line is known.
    fn check(&self, key: &Key, text: &str, line: usize) -> Result<()> {
        if key.kind == Switch {
            return Ok(());
        }
        let flag = format!("--{}={text}", key.long);
        match Cli::command().try_get_matches_from(["sandserve", flag.as_str()]) {
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ValueValidation | ErrorKind::InvalidValue
                ) =>
            {
                bail!(
                    "{}:{line}: {}: {}",
                    self.path.display(),
                    key.name(),
                    crate::cli::clap_line(&e)
                )
            }
            _ => Ok(()),
        }
    }
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}
