//! The policy, from what a `wasi:http` engine offers for configuration: environment
//! variables (`wasmtime serve --env`, Spin's `environment`, wasmCloud's config).
//!
//! One variable per sandserve flag, with the same meaning, syntax and default, so a site
//! moves between sandserve and an engine with the same decisions:
//!
//! | variable | sandserve flag | value |
//! |---|---|---|
//! | `SANDSERVE_MIN_USER_AGENT_LEN` | `--min-user-agent-len` | a number; 0 = off |
//! | `SANDSERVE_SERVE_DOTFILES` | `--serve-dotfiles` | `1`/`0`, `true`/`false` |
//! | `SANDSERVE_LIST_DIRS` | `--list-dirs` | `1`/`0`, `true`/`false` |
//! | `SANDSERVE_FALLBACK` | `--fallback` | a file below the root |
//! | `SANDSERVE_CACHE_CONTROL` | `--cache-control` | a field value |
//! | `SANDSERVE_CACHE_RULE` | `--cache-rule` (each line one) | `GLOB=VALUE` lines |
//! | `SANDSERVE_HEADER` | `--header` (each line one) | `Name: value` lines |
//!
//! Any other `SANDSERVE_` variable is refused, as an unknown flag is: a misspelt setting
//! must not silently leave the default in place.

use sandserve_core::Policy;
use sandserve_core::policy;

/// The policy the variables describe, or the first one that is wrong, named.
pub fn policy<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Policy, String> {
    let mut p = Policy::default();
    let mut cache_control = None;
    for (name, value) in vars {
        let Some(key) = name.strip_prefix("SANDSERVE_") else {
            continue;
        };
        let bad = |why: String| format!("{name}={value:?}: {why}");
        match key {
            "MIN_USER_AGENT_LEN" => {
                p.min_user_agent_len = value
                    .trim()
                    .parse()
                    .map_err(|_| bad("expected a number of characters (0 = off)".into()))?;
            }
            "SERVE_DOTFILES" => p.serve_dotfiles = switch(value).map_err(bad)?,
            "LIST_DIRS" => p.list_dirs = switch(value).map_err(bad)?,
            "FALLBACK" => {
                let file = value.trim();
                let inside = !file.is_empty()
                    && !file.starts_with('/')
                    && !file.split('/').any(|s| s == "..");
                if !inside {
                    return Err(bad("expected a file below the root, like index.html".into()));
                }
                p.fallback = Some(file.to_owned());
            }
            "CACHE_CONTROL" => cache_control = Some(policy::field_value(value).map_err(bad)?),
            "CACHE_RULE" => {
                for line in lines(value) {
                    p.cache_control.push(policy::cache_rule(line).map_err(bad)?);
                }
            }
            "HEADER" => {
                for line in lines(value) {
                    p.extra_headers
                        .push(policy::extra_header(line).map_err(bad)?);
                }
            }
            _ => return Err(format!("{name}: not a sandserve setting")),
        }
    }
    // As under sandserve: the catch-all comes after every rule, whatever the order of
    // the variables.
    if let Some(value) = cache_control {
        p.cache_control.push(("**".to_owned(), value));
    }
    Ok(p)
}

fn switch(value: &str) -> Result<bool, String> {
    match value.trim() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err("expected 1 or 0 (true or false)".into()),
    }
}

fn lines(value: &str) -> impl Iterator<Item = &str> {
    value.lines().map(str::trim).filter(|line| !line.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_set_is_the_built_in_default() {
        assert_eq!(policy([("PATH", "/bin")]), Ok(Policy::default()));
    }

    #[test]
    fn every_variable_takes_effect() {
        let p = policy([
            ("SANDSERVE_CACHE_CONTROL", "no-cache"),
            ("SANDSERVE_MIN_USER_AGENT_LEN", "60"),
            ("SANDSERVE_SERVE_DOTFILES", "true"),
            ("SANDSERVE_LIST_DIRS", "1"),
            ("SANDSERVE_FALLBACK", "app/index.html"),
            (
                "SANDSERVE_CACHE_RULE",
                "assets/**=max-age=31536000, immutable\n*.html = no-store\n",
            ),
            (
                "SANDSERVE_HEADER",
                "X-Frame-Options: DENY\nPermissions-Policy: camera=()",
            ),
        ])
        .unwrap();
        assert_eq!(p.min_user_agent_len, 60);
        assert!(p.serve_dotfiles && p.list_dirs);
        assert_eq!(p.fallback.as_deref(), Some("app/index.html"));
        assert_eq!(
            p.cache_control,
            [
                ("assets/**".into(), "max-age=31536000, immutable".into()),
                ("*.html".into(), "no-store".into()),
                ("**".into(), "no-cache".into()),
            ]
        );
        assert_eq!(p.extra_headers.len(), 2);
        assert_eq!(p.server_name, "sandserve");
    }

    #[test]
    fn a_wrong_value_or_name_is_refused_and_named() {
        for (name, value, says) in [
            ("SANDSERVE_LIST_DIRS", "maybe", "expected 1 or 0"),
            ("SANDSERVE_MIN_USER_AGENT_LEN", "-1", "number"),
            ("SANDSERVE_FALLBACK", "../etc/passwd", "below the root"),
            ("SANDSERVE_FALLBACK", "/index.html", "below the root"),
            (
                "SANDSERVE_HEADER",
                "Content-Length: 1",
                "sets Content-Length itself",
            ),
            ("SANDSERVE_HEADER", "X: a\u{7}", "not a valid field value"),
            ("SANDSERVE_CACHE_RULE", "no-equals", "expected GLOB=VALUE"),
            ("SANDSERVE_LISTDIRS", "1", "not a sandserve setting"),
        ] {
            let error = policy([(name, value)]).unwrap_err();
            assert!(error.starts_with(name) && error.contains(says), "{error}");
        }
    }
}
