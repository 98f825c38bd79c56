//! Watching a project: its sources looked at every `POLL`, a change reported once the
//! files stop changing (an editor may write a file in steps), with the newest
//! modification among them — where `dev`'s loop time starts.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Result, bail};

use crate::dev::project::Project;
use crate::dev::server::Server;

/// How often the sources are looked at.
const POLL: Duration = Duration::from_millis(100);

/// Waits until the sources change and stay unchanged for a poll; the changed files
/// and the newest modification among them. Fails when the server `dev` started exits.
pub fn wait_for_change(
    project: &Project,
    seen: &mut Vec<(PathBuf, SystemTime)>,
    mut server: Option<&mut Server>,
) -> Result<(String, SystemTime)> {
    loop {
        std::thread::sleep(POLL);
        if let Some(child) = server.as_mut().and_then(|s| s.child.as_mut())
            && let Some(status) = child.try_wait()?
        {
            bail!("the server exited ({status})");
        }
        let now = project.sources();
        if now == *seen {
            continue;
        }
        // An editor may write a file in steps: wait until a look finds no change.
        let mut settled = now;
        loop {
            std::thread::sleep(POLL / 2);
            let again = project.sources();
            if again == settled {
                break;
            }
            settled = again;
        }
        let changed: Vec<&(PathBuf, SystemTime)> =
            settled.iter().filter(|s| !seen.contains(s)).collect();
        let removed = seen
            .iter()
            .filter(|(p, _)| !settled.iter().any(|(q, _)| q == p))
            .count();
        let newest = changed
            .iter()
            .map(|(_, t)| *t)
            .max()
            .unwrap_or_else(SystemTime::now);
        let mut names: Vec<String> = changed
            .iter()
            .map(|(p, _)| {
                p.strip_prefix(&project.dir)
                    .unwrap_or(p)
                    .display()
                    .to_string()
            })
            .collect();
        if removed > 0 {
            names.push(format!("({removed} removed)"));
        }
        *seen = settled;
        return Ok((names.join(" "), newest));
    }
}
