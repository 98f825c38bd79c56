//! The `--config` TOML file read into flag values, each with its line (`keys` says which
//! key is which flag). Unknown keys, wrong types and bad values are refused with the
//! file, line and key named; paths in the file are relative to its directory.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::CommandFactory;
use clap::error::ErrorKind;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::settings::cli::Cli;
use crate::settings::keys::{KEYS, Key, Kind, SECTIONS};
use Kind::*;

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
        flags: std::cell::RefCell::new(Cli::command()),
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
    /// The flags without the environment, built once, to check each value with.
    flags: std::cell::RefCell<clap::Command>,
}

impl Reader<'_> {
    /// `FILE:LINE` of a span.
    fn at(&self, span: Range<usize>) -> String {
        format!("{}:{}", self.path.display(), self.line(span))
    }

    fn line(&self, span: Range<usize>) -> usize {
        let before = self.text.get(..span.start).unwrap_or(self.text);
        before.matches('\n').count() + 1
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
                        if name.contains(':') {
                            bail!(
                                "{}: headers: the field name {name:?} holds a `:`",
                                self.at(item.span())
                            );
                        }
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
            // A line break would split a value in two where the environment's lists are
            // split, and no flag value may hold one.
            if text.contains(['\r', '\n']) {
                bail!(
                    "{}:{line}: {}: a value cannot hold a line break",
                    self.path.display(),
                    key.name()
                );
            }
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
        if a.contains('=') {
            bail!(
                "{}: [[{}]] {left} {a:?}: cannot hold a `=`",
                self.at(item.span()),
                key.key
            );
        }
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
        let flag = format!("--{}={text}", key.long());
        let checked = self
            .flags
            .borrow_mut()
            .try_get_matches_from_mut(["sandserve", flag.as_str()]);
        match checked {
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
                    crate::settings::cli::clap_line(&e)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/configuration.md's sample file reads, and sets every key there is: the reference cannot
    /// fall behind the flags.
    #[test]
    fn the_readme_sample_reads_and_names_every_key() {
        let readme = include_str!("../../../docs/configuration.md");
        let start = readme
            .find("```toml\n")
            .expect("a toml block in docs/configuration.md")
            + 8;
        let sample = &readme[start..start + readme[start..].find("```").unwrap()];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sandserve.toml");
        std::fs::write(&path, sample).unwrap();
        let given = read(&path).unwrap_or_else(|e| panic!("{e:#}"));
        for key in KEYS {
            assert!(
                given.iter().any(|g| std::ptr::eq(g.key, key)) || key.id == "no_cache",
                "docs/configuration.md's sample lacks {}",
                key.name()
            );
        }
    }

    #[test]
    fn values_become_the_flags_own_syntax() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "handler = \"h.wasm\"\n[limits]\nmax_requests = 0x10\nheader_timeout = 5\n[[mount]]\nprefix = \"/a/\"\nhandler = \"/abs/m.wasm\"\n[headers]\nX = [\"1\", \"2\"]\n",
        )
        .unwrap();
        let given = read(&path).unwrap();
        let flags: Vec<String> = given
            .iter()
            .flat_map(|g| g.key.flags(&g.values))
            .map(|f| f.into_string().unwrap())
            .collect();
        let handler = format!("--handler={}", dir.path().join("h.wasm").display());
        assert_eq!(
            flags,
            [
                handler.as_str(),
                "--max-requests=16",
                "--header-timeout=5",
                "--mount=/a/=/abs/m.wasm",
                "--header=X: 1",
                "--header=X: 2",
            ]
        );
    }
}
