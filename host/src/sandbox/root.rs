//! The served root as the host lends it to one request: the `root` import (metadata,
//! directory entries, bytes of small files) and the same three as looks made between a
//! 0.4.0 handler's calls, and the one function by which the host opens any file of the
//! root, for handlers and for bodies alike.
//!
//! Every path is resolved by cap-std below the root directory (one `openat2` with
//! `RESOLVE_BENEATH` on Linux 5.6+, a component-by-component walk elsewhere), so a
//! handler's `..`, absolute path or symlink out of the root is an error, never a file.
//! What a request opens stays open in its store until the response is planned: a body
//! that names the path the handler looked at is that same descriptor, so the metadata
//! the handler decided on is the file that is sent, and it costs no second open.

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};

use crate::compress::{self, Forms, Source};
use crate::sandbox::bindings::wit;
use crate::sandbox::bindings::wit_root::{self, Entry, Error, Found, Kind, Listing, Look};

/// Most bytes one `read` returns (`root.max-read`).
pub const MAX_READ: u64 = 1 << 20;
/// Most entries one `list` returns, whatever the handler asks.
pub const MAX_LIST: u32 = 10_000;
/// Longest path the root resolves (Linux's `PATH_MAX`).
pub const MAX_PATH: usize = 4096;
/// Most regular files one request keeps open for its body; more are closed at once
/// (a handler that stats thousands of files must not hold thousands of descriptors).
pub const MAX_KEPT: usize = 16;
/// Most compressed forms one request may ask for, found or not (a response needs one):
/// past it the answer is `none`, and nothing is made or queued for it.
pub const MAX_FORMS_ASKED: u32 = 4;

/// A regular file a request opened, kept for its body: the file at `path` itself, or
/// (`coding`) a compressed form of it that the request found.
#[derive(Debug, Clone)]
pub struct Opened {
    pub path: String,
    pub coding: Option<wit::Coding>,
    pub file: Arc<File>,
    pub size: u64,
}

/// One request's loan of the root.
pub struct Lent {
    dir: Arc<Dir>,
    kept: Vec<(Opened, wit_root::Metadata)>,
    /// The server's compressed forms (`None`: it makes none).
    forms: Option<Arc<Forms>>,
    /// The forms this request found, for its body.
    found_forms: Vec<Opened>,
    /// Forms this request asked for so far.
    forms_asked: u32,
    /// An open failed because the server was out of descriptors: the handler's answer
    /// was made on a false "error", so the request gets the host's 503 instead.
    pub starved: bool,
}

impl Lent {
    pub fn new(dir: Arc<Dir>, forms: Option<Arc<Forms>>) -> Lent {
        Lent {
            dir,
            kept: Vec::new(),
            forms,
            found_forms: Vec::new(),
            forms_asked: 0,
            starved: false,
        }
    }

    /// `e` for the handler, noting whether the server was out of descriptors.
    fn failed(&mut self, e: &io::Error) -> Error {
        self.starved |= crate::net::descriptors::exhausted(e);
        error(e)
    }

    /// What `look` finds: what the `root` function of the same name returns.
    pub fn make(&mut self, look: &Look) -> Found {
        use wit_root::Host;
        match look {
            Look::Stat(path) => Found::Stat(self.stat(path.clone())),
            Look::List(args) => Found::List(self.list(args.path.clone(), args.max)),
            Look::Read(args) => Found::Read(self.read(args.path.clone(), args.offset, args.length)),
            Look::Compressed(args) => {
                Found::Compressed(self.compressed(args.path.clone(), args.coding))
            }
        }
    }

    /// The files this request opened, and the forms it found, handed over for
    /// planning its body.
    pub fn take(&mut self) -> Vec<Opened> {
        let mut opened: Vec<Opened> = self.kept.drain(..).map(|(opened, _)| opened).collect();
        opened.append(&mut self.found_forms);
        self.forms_asked = 0;
        opened
    }

    /// The regular file at `path` as a source of forms, with the server's forms
    /// (`None` when the server makes none).
    pub fn source(&mut self, path: &str) -> Result<Option<(Arc<Forms>, Source)>, Error> {
        let (file, meta) = self.look(path)?;
        let Some(file) = file.filter(|_| meta.kind == Kind::File) else {
            return Err(Error::NotAFile);
        };
        self.forms_asked += 1;
        let Some(forms) = self
            .forms
            .clone()
            .filter(|_| self.forms_asked <= MAX_FORMS_ASKED)
        else {
            return Ok(None);
        };
        let modified = meta
            .modified
            .map(|t| UNIX_EPOCH + std::time::Duration::new(t.seconds, t.nanoseconds));
        let source = Source {
            file,
            size: meta.size,
            modified,
        };
        Ok(Some((forms, source)))
    }

    /// Notes a form found for `path`, so that its body can name it, and describes it
    /// for the handler (`None` past `MAX_KEPT` forms: the file goes as it is).
    pub fn keep_form(
        &mut self,
        path: &str,
        coding: wit::Coding,
        form: Option<compress::Form>,
    ) -> Option<wit_root::Form> {
        let form = form?;
        if self.found_forms.len() >= MAX_KEPT {
            return None;
        }
        self.found_forms
            .retain(|o| !(o.path == path && o.coding == Some(coding)));
        self.found_forms.push(Opened {
            path: path.to_owned(),
            coding: Some(coding),
            file: form.file,
            size: form.size,
        });
        Some(wit_root::Form {
            size: form.size,
            tag: form.tag,
        })
    }

    /// The file at `path`: kept from earlier in this request, or opened now (and kept,
    /// if it is a regular file and there is room).
    /// (`None` for a socket, which cannot be opened, only stat'ed.)
    fn look(&mut self, path: &str) -> Result<(Option<Arc<File>>, wit_root::Metadata), Error> {
        if let Some((opened, meta)) = self.kept.iter().find(|(o, _)| o.path == path) {
            return Ok((Some(opened.file.clone()), *meta));
        }
        let (file, meta) = match open(&self.dir, path) {
            Ok(opened) => opened,
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) => {
                let meta = self.dir.metadata(path).map_err(|e| error(&e))?;
                let modified = meta.modified().ok().map(|t| t.into_std());
                return Ok((None, describe(false, false, meta.len(), modified)));
            }
            Err(e) => return Err(self.failed(&e)),
        };
        let file = Arc::new(file);
        let meta = metadata(&meta);
        if meta.kind == Kind::File && self.kept.len() < MAX_KEPT {
            let opened = Opened {
                path: path.to_owned(),
                coding: None,
                file: file.clone(),
                size: meta.size,
            };
            self.kept.push((opened, meta));
        }
        Ok((Some(file), meta))
    }
}

/// Opens `path` below `root`, read-only and without blocking (a FIFO must not hold a
/// worker), and reads its metadata. Fails on a path that is not a plain relative one,
/// a symlink out of the root, or anything the filesystem refuses.
pub fn open(root: &Dir, path: &str) -> io::Result<(File, Metadata)> {
    check(path)?;
    let path = if path.is_empty() { "." } else { path };
    let mut options = OpenOptions::new();
    options
        .read(true)
        .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32);
    let file = root.open_with(path, &options)?.into_std();
    let meta = file.metadata()?;
    Ok((file, meta))
}

/// Refuses what no path below the root can be, before asking the kernel (so that the
/// error says why).
fn check(path: &str) -> io::Result<()> {
    let bad = path.len() > MAX_PATH
        || path.starts_with('/')
        || path.contains(['\0', '\\'])
        || path.split('/').any(|segment| segment == "..");
    if bad {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{path:?} is not a relative path below the root"),
        ));
    }
    Ok(())
}

/// cap-std reports an escape as `PermissionDenied` with no OS error; a real `EACCES`
/// carries one.
fn error(e: &io::Error) -> Error {
    match (e.kind(), e.raw_os_error()) {
        (io::ErrorKind::InvalidInput, None) => Error::InvalidPath,
        (io::ErrorKind::PermissionDenied, None) => Error::OutsideRoot,
        (io::ErrorKind::PermissionDenied, Some(_)) => Error::AccessDenied,
        (io::ErrorKind::NotFound, _) => Error::NotFound,
        (io::ErrorKind::NotADirectory, _) => Error::NotADirectory,
        (_, Some(code)) if code == rustix::io::Errno::LOOP.raw_os_error() => Error::NotFound,
        (_, Some(code)) if code == rustix::io::Errno::NAMETOOLONG.raw_os_error() => {
            Error::InvalidPath
        }
        _ => Error::Io,
    }
}

fn metadata(meta: &Metadata) -> wit_root::Metadata {
    describe(
        meta.is_file(),
        meta.is_dir(),
        meta.len(),
        meta.modified().ok(),
    )
}

fn describe(file: bool, dir: bool, size: u64, modified: Option<SystemTime>) -> wit_root::Metadata {
    let kind = if file {
        Kind::File
    } else if dir {
        Kind::Directory
    } else {
        Kind::Other
    };
    let modified = modified
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| wit::Instant {
            seconds: d.as_secs(),
            nanoseconds: d.subsec_nanos(),
        });
    wit_root::Metadata {
        kind,
        size,
        modified,
    }
}

impl wit::Host for Lent {}

impl wit_root::Host for Lent {
    fn max_read(&mut self) -> u64 {
        MAX_READ
    }

    fn stat(&mut self, path: String) -> Result<wit_root::Metadata, Error> {
        self.look(&path).map(|(_, meta)| meta)
    }

    fn list(&mut self, path: String, max: u32) -> Result<Listing, Error> {
        check(&path).map_err(|e| error(&e))?;
        let max = max.min(MAX_LIST) as usize;
        let listed = if path.is_empty() {
            self.dir.entries()
        } else {
            self.dir.open_dir(&path).and_then(|dir| dir.entries())
        }
        .map_err(|e| self.failed(&e))?;
        let mut entries = Vec::new();
        for entry in listed {
            let Ok(entry) = entry else { continue };
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if entries.len() == max {
                return Ok(Listing {
                    entries,
                    truncated: true,
                });
            }
            let full = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}/{name}")
            };
            // Followed from the root, so that a symlink to a sibling directory works
            // and one out of the root is left out.
            if let Ok(meta) = self.dir.metadata(&full) {
                entries.push(Entry {
                    name,
                    metadata: describe(
                        meta.is_file(),
                        meta.is_dir(),
                        meta.len(),
                        meta.modified().ok().map(|t| t.into_std()),
                    ),
                });
            }
        }
        Ok(Listing {
            entries,
            truncated: false,
        })
    }

    fn read(&mut self, path: String, offset: u64, length: u64) -> Result<Vec<u8>, Error> {
        if length > MAX_READ {
            return Err(Error::TooLarge);
        }
        let (file, meta) = self.look(&path)?;
        let Some(file) = file.filter(|_| meta.kind == Kind::File) else {
            return Err(Error::NotAFile);
        };
        let want = length.min(meta.size.saturating_sub(offset)) as usize;
        let mut bytes = vec![0; want];
        let mut filled = 0;
        while filled < want {
            match file.read_at(&mut bytes[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(error(&e)),
            }
        }
        bytes.truncate(filled);
        Ok(bytes)
    }

    /// A form already made, or none (and one made in the background): a call runs on
    /// a serving thread inside the handler's call, so it never waits for compression.
    fn compressed(
        &mut self,
        path: String,
        coding: wit::Coding,
    ) -> Result<Option<wit_root::Form>, Error> {
        let Some((forms, source)) = self.source(&path)? else {
            return Ok(None);
        };
        let form = forms.ready(&source, codec(coding));
        Ok(self.keep_form(&path, coding, form))
    }
}

/// The compressor's coding for the contract's.
pub fn codec(coding: wit::Coding) -> compress::Coding {
    match coding {
        wit::Coding::Br => compress::Coding::Br,
        wit::Coding::Zstd => compress::Coding::Zstd,
        wit::Coding::Gzip => compress::Coding::Gzip,
    }
}
