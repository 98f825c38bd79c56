//! The process's file descriptors as a budget: the soft `RLIMIT_NOFILE` raised to the
//! hard limit at start (the usual soft 1,024 is far below what `--max-connections`
//! allows), and `--max-connections` clamped to what the descriptors can serve, so that
//! a full house pauses `accept` instead of failing a request's file open.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Raises the soft descriptor limit to the hard one; returns the limit in force
/// (`None`: unlimited) and what to say of it once the server starts.
pub fn raise() -> (Option<u64>, Option<String>) {
    let limit = getrlimit(Resource::Nofile);
    let mut said = None;
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        said = Some(match setrlimit(Resource::Nofile, raised) {
            Ok(()) => format!(
                "descriptors: soft limit raised from {} to {}",
                shown(limit.current),
                shown(limit.maximum)
            ),
            Err(e) => format!(
                "descriptors: cannot raise the soft limit {} to {}: {e}",
                shown(limit.current),
                shown(limit.maximum)
            ),
        });
    }
    (getrlimit(Resource::Nofile).current, said)
}

fn shown(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
}

/// The most connections `nofile` descriptors can serve: a quarter of them (at most 256)
/// kept for the server's own (listeners, logs, the cache, the runtime), then two per
/// connection — its socket and the file its response sends.
pub fn connections_for(nofile: u64) -> usize {
    let reserve = (nofile / 4).min(256);
    (nofile.saturating_sub(reserve) / 2).max(1) as usize
}

/// `asked` connections, or fewer when the descriptors cannot serve them, and then what
/// to say of it once the server starts.
pub fn clamp(asked: usize, nofile: Option<u64>) -> (usize, Option<String>) {
    let Some(nofile) = nofile else {
        return (asked, None);
    };
    let most = connections_for(nofile);
    if asked <= most {
        return (asked, None);
    }
    let said = format!(
        "--max-connections {asked}: lowered to {most}, what {nofile} descriptors serve \
         (two per connection, and some for the server)"
    );
    (most, Some(said))
}

/// Whether `error` is the process (`EMFILE`) or the system (`ENFILE`) out of descriptors.
pub fn exhausted(error: &std::io::Error) -> bool {
    let code = error.raw_os_error();
    code == Some(rustix::io::Errno::MFILE.raw_os_error())
        || code == Some(rustix::io::Errno::NFILE.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets() {
        assert_eq!(connections_for(20_000), 9_872);
        assert_eq!(connections_for(1_024), 384);
        assert_eq!(connections_for(100), 37);
        assert_eq!(clamp(10_000, Some(20_000)).0, 9_872);
        assert!(clamp(10_000, Some(20_000)).1.is_some());
        assert_eq!(clamp(100, Some(20_000)), (100, None));
        assert_eq!(clamp(10_000, None), (10_000, None));
    }
}
