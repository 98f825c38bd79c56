//! A response body planned before a byte is sent: files named by the guest are opened
//! here, confined to the root whatever the guest says, and every range is checked
//! against the file as the host finds it; small files are read now, so that the head
//! and the body go out in one write (`send`), larger ones stay open for `sendfile`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use cap_std::fs::Dir;

use crate::sandbox::bindings::wit;
use crate::sandbox::root::{self, Opened};

/// Bodies up to this size are read into memory and written together with the head
/// (one syscall instead of several); larger ones are sent with `sendfile`, which copies
/// nothing through user space. Measured: at 64 KiB, reading and writing costs more
/// than the extra syscall (BENCHMARKS.md).
pub const COALESCE_LIMIT: u64 = 16 * 1024;
/// Most bytes of a body the guest may return inline. Files go by reference whatever
/// their size; inline bytes are for pages the guest makes (errors, listings), and each
/// costs host memory while it is sent, so a handler cannot make the host hold more.
pub const MAX_INLINE: u64 = 4 << 20;
/// Most pieces a body may have (multipart responses); the guest caps its own well below.
pub const MAX_PIECES: usize = 1024;

/// A piece of a body, ready to send.
#[derive(Debug)]
pub(crate) enum Piece {
    Bytes(Vec<u8>),
    File {
        file: Arc<File>,
        offset: u64,
        length: u64,
    },
}

/// A body whose files are open and whose ranges were checked against them.
#[derive(Debug, Default)]
pub struct Plan {
    pub(crate) pieces: Vec<Piece>,
    len: u64,
}

impl Plan {
    pub fn bytes(bytes: Vec<u8>) -> Plan {
        let len = bytes.len() as u64;
        Plan {
            pieces: vec![Piece::Bytes(bytes)],
            len,
        }
    }

    /// Total number of body bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Opens what the guest's body names, unless the guest's `root` calls already did
/// (`opened`). Fails on a path that is not a plain relative path below the root, a
/// symlink that leads out of it, something that is not a regular file, or a range that
/// is not inside the file.
pub fn plan(body: wit::Body, root: &Dir, opened: Vec<Opened>) -> Result<Plan> {
    let mut plan = Plan::default();
    let mut open = opened;
    let mut add = |plan: &mut Plan, chunk: wit::Chunk| -> Result<()> {
        let piece = match chunk {
            wit::Chunk::Bytes(bytes) => Piece::Bytes(bytes),
            wit::Chunk::File(range) => file_piece(root, &mut open, range)?,
        };
        plan.len += match &piece {
            Piece::Bytes(bytes) => bytes.len() as u64,
            Piece::File { length, .. } => *length,
        };
        plan.pieces.push(piece);
        Ok(())
    };
    match body {
        wit::Body::Empty => {}
        wit::Body::Bytes(bytes) => add(&mut plan, wit::Chunk::Bytes(bytes))?,
        wit::Body::File(range) => add(&mut plan, wit::Chunk::File(range))?,
        wit::Body::Chunks(chunks) => {
            ensure!(
                chunks.len() <= MAX_PIECES,
                "body has {} pieces",
                chunks.len()
            );
            for chunk in chunks {
                add(&mut plan, chunk)?;
            }
        }
    }
    let inline: u64 = plan
        .pieces
        .iter()
        .map(|piece| match piece {
            Piece::Bytes(bytes) => bytes.len() as u64,
            Piece::File { .. } => 0,
        })
        .sum();
    ensure!(
        inline <= MAX_INLINE,
        "inline body of {inline} bytes is over the {MAX_INLINE}-byte limit"
    );
    if plan.len <= COALESCE_LIMIT {
        plan.read_files()?;
    }
    Ok(plan)
}

/// A whole page of the root (the host's own error page), if it is a regular file of at
/// most `MAX_INLINE` bytes that can be opened below the root.
pub fn plan_page(root: &Dir, path: &str) -> Option<Plan> {
    let (file, size) = open_confined(root, path).ok()?;
    if size > MAX_INLINE {
        return None;
    }
    let mut plan = Plan {
        pieces: vec![Piece::File {
            file: Arc::new(file),
            offset: 0,
            length: size,
        }],
        len: size,
    };
    if size <= COALESCE_LIMIT {
        plan.read_files().ok()?;
    }
    Some(plan)
}

fn file_piece(root: &Dir, open: &mut Vec<Opened>, range: wit::FileRange) -> Result<Piece> {
    let found = open
        .iter()
        .find(|o| o.path == range.path && o.coding == range.coding);
    let (file, size) = match found {
        Some(o) => (o.file.clone(), o.size),
        // A form is never opened by name: only one this request found is sent.
        None if range.coding.is_some() => bail!(
            "no {:?} form of {:?} was found by this request",
            range.coding,
            range.path
        ),
        None => {
            let (file, size) = open_confined(root, &range.path)?;
            let file = Arc::new(file);
            open.push(Opened {
                path: range.path.clone(),
                coding: None,
                file: file.clone(),
                size,
            });
            (file, size)
        }
    };
    let end = range.offset.checked_add(range.length);
    ensure!(
        end.is_some_and(|end| end <= size),
        "range {}+{} of {:?} is outside the file's {size} bytes",
        range.offset,
        range.length,
        range.path
    );
    Ok(Piece::File {
        file,
        offset: range.offset,
        length: range.length,
    })
}

/// Opens `path` below `root` (see `root::open`), which must be a regular file.
fn open_confined(root: &Dir, path: &str) -> Result<(File, u64)> {
    ensure!(!path.is_empty(), "a file body needs a path");
    let (file, meta) =
        root::open(root, path).with_context(|| format!("cannot open {path:?} below the root"))?;
    if !meta.is_file() {
        bail!("{path:?} is not a regular file");
    }
    Ok((file, meta.len()))
}

impl Plan {
    /// The whole body in memory, files read (for tools that look at an answer,
    /// `sandserve check`; a server sends files without reading them).
    pub fn into_bytes(mut self) -> Result<Vec<u8>> {
        self.read_files()?;
        Ok(self
            .pieces
            .into_iter()
            .flat_map(|piece| match piece {
                Piece::Bytes(bytes) => bytes,
                Piece::File { .. } => unreachable!("read_files leaves no file pieces"),
            })
            .collect())
    }

    /// Replaces file pieces by their bytes, so that a file that shrank since the guest
    /// looked at it is a 500 now rather than a response cut short later.
    fn read_files(&mut self) -> Result<()> {
        for piece in &mut self.pieces {
            if let Piece::File {
                file,
                offset,
                length,
            } = piece
            {
                let mut bytes = vec![0; *length as usize];
                file.read_exact_at(&mut bytes, *offset)
                    .context("file changed while being served")?;
                *piece = Piece::Bytes(bytes);
            }
        }
        Ok(())
    }
}
