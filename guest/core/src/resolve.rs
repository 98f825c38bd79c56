//! A decoded path to what it names in the root: a file, or a directory redirect.
//!
//! `/dir/` is `dir/index.html`; `/dir` is a redirect to `/dir/`; a directory without an
//! index is refused (403, as nginx does with autoindex off).

use std::io;

use crate::error::ServeError;
use crate::root::{Kind, Meta, Root};
use crate::target::DecodedPath;

/// The index file served for a directory.
pub const INDEX: &str = "index.html";

/// What a path resolved to.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    /// A regular file, by its path relative to the root.
    File { rel: String, meta: Meta },
    /// A directory asked for without its trailing slash: redirect to add it.
    AddSlash,
    /// A directory without an index, to be listed (only when listings are on).
    Listing { rel: String },
}

/// The first path `resolve` stats for `path`: the path itself, or for a directory path
/// (`/`, `/docs/`) its index. (The host looks it up before it calls a handler that can
/// only look, so that a file is served in one call.)
pub fn first_stat(path: &DecodedPath) -> String {
    let rel = path.relative();
    if rel.is_empty() {
        INDEX.to_owned()
    } else if path.trailing_slash {
        format!("{rel}/{INDEX}")
    } else {
        rel
    }
}

pub fn resolve(
    path: &DecodedPath,
    root: &impl Root,
    list_dirs: bool,
) -> Result<Resolved, ServeError> {
    let rel = path.relative();
    if path.trailing_slash || rel.is_empty() {
        let index = first_stat(path);
        return match root.stat(&index) {
            Ok(meta) => file(index, meta),
            Err(e) if is_missing(&e) => match root.stat(&rel) {
                Ok(Meta {
                    kind: Kind::Dir, ..
                }) if list_dirs => Ok(Resolved::Listing { rel }),
                Ok(Meta {
                    kind: Kind::Dir, ..
                }) => Err(ServeError::Forbidden("directory has no index")),
                Ok(_) => Err(ServeError::NotFound),
                Err(e) => Err(io_error(&e)),
            },
            Err(e) => Err(io_error(&e)),
        };
    }
    match root.stat(&rel) {
        Ok(Meta {
            kind: Kind::Dir, ..
        }) => Ok(Resolved::AddSlash),
        Ok(meta) => file(rel, meta),
        Err(e) => Err(io_error(&e)),
    }
}

fn file(rel: String, meta: Meta) -> Result<Resolved, ServeError> {
    match meta.kind {
        Kind::File => Ok(Resolved::File { rel, meta }),
        Kind::Dir => Err(ServeError::Forbidden("index is a directory")),
        Kind::Other => Err(ServeError::Forbidden("not a regular file")),
    }
}

fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// How a failed lookup is answered. A symlink that leads out of the root fails inside
/// the sandbox with a permission error, so it is a 403 and reveals nothing of the target.
pub fn io_error(e: &io::Error) -> ServeError {
    match e.kind() {
        _ if is_missing(e) => ServeError::NotFound,
        io::ErrorKind::InvalidFilename | io::ErrorKind::InvalidInput => ServeError::NotFound,
        io::ErrorKind::PermissionDenied => ServeError::Forbidden("permission denied"),
        _ => ServeError::Internal("cannot read the root"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::DirRoot;
    use crate::target::decode;

    fn fixture() -> (tempdir::Dir, DirRoot) {
        let dir = tempdir::Dir::new();
        std::fs::create_dir_all(dir.path().join("docs/empty")).unwrap();
        std::fs::write(dir.path().join("index.html"), "home").unwrap();
        std::fs::write(dir.path().join("docs/index.html"), "docs").unwrap();
        std::fs::write(dir.path().join("docs/a.txt"), "aaa").unwrap();
        let root = DirRoot::new(dir.path());
        (dir, root)
    }

    fn resolve_str(root: &DirRoot, path: &str) -> Result<Resolved, ServeError> {
        resolve(&decode(path).unwrap(), root, false)
    }

    fn rel(r: Result<Resolved, ServeError>) -> String {
        match r {
            Ok(Resolved::File { rel, .. }) => rel,
            other => panic!("not a file: {other:?}"),
        }
    }

    #[test]
    fn files_and_indexes() {
        let (_dir, root) = fixture();
        assert_eq!(rel(resolve_str(&root, "/")), "index.html");
        assert_eq!(rel(resolve_str(&root, "/docs/")), "docs/index.html");
        assert_eq!(rel(resolve_str(&root, "/docs/a.txt")), "docs/a.txt");
        match resolve_str(&root, "/docs/a.txt").unwrap() {
            Resolved::File { meta, .. } => assert_eq!(meta.len, 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn directories_and_misses() {
        let (_dir, root) = fixture();
        assert_eq!(resolve_str(&root, "/docs"), Ok(Resolved::AddSlash));
        assert_eq!(
            resolve_str(&root, "/docs/empty/"),
            Err(ServeError::Forbidden("directory has no index"))
        );
        assert_eq!(resolve_str(&root, "/nope.txt"), Err(ServeError::NotFound));
        assert_eq!(
            resolve_str(&root, "/docs/a.txt/"),
            Err(ServeError::NotFound)
        );
        assert_eq!(resolve_str(&root, "/nope/x"), Err(ServeError::NotFound));
    }
}

/// A self-deleting temporary directory for the tests of this crate (no extra crate
/// needed for one small helper).
#[cfg(test)]
pub(crate) mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Dir {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("sandserve-guest-test-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
