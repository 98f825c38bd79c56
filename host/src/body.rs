//! Response bodies. Files named by the guest are opened here, confined to the root
//! whatever the guest says; small bodies are read and sent with the head in one write,
//! large ones go from the page cache to the socket with `sendfile`, so memory stays
//! bounded whatever the file's size.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use cap_std::fs::Dir;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use crate::engine::wit;

/// Bodies up to this size are read into memory and written together with the head
/// (one syscall instead of several); larger ones are sent with `sendfile`, which copies
/// nothing through user space. Measured: at 64 KiB, reading and writing costs more
/// than the extra syscall (BENCHMARKS.md).
pub const COALESCE_LIMIT: u64 = 16 * 1024;
/// Most pieces a body may have (multipart responses); the guest caps its own well below.
pub const MAX_PIECES: usize = 1024;

/// A piece of a body, ready to send.
#[derive(Debug)]
enum Piece {
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
    pieces: Vec<Piece>,
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

/// Opens what the guest's body names. Fails on a path that is not a plain relative
/// path below the root, a symlink that leads out of it, something that is not a regular
/// file, or a range that is not inside the file.
pub fn plan(body: wit::Body, root: &Dir) -> Result<Plan> {
    let mut plan = Plan::default();
    let mut open: Vec<(String, Arc<File>, u64)> = Vec::new();
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
    if plan.len <= COALESCE_LIMIT {
        plan.read_small_files()?;
    }
    Ok(plan)
}

fn file_piece(
    root: &Dir,
    open: &mut Vec<(String, Arc<File>, u64)>,
    range: wit::FileRange,
) -> Result<Piece> {
    let (file, size) = match open.iter().find(|(path, ..)| *path == range.path) {
        Some((_, file, size)) => (file.clone(), *size),
        None => {
            let (file, size) = open_confined(root, &range.path)?;
            let file = Arc::new(file);
            open.push((range.path.clone(), file.clone(), size));
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

/// Opens `path` below `root`. cap-std resolves every component, symlinks included,
/// inside the directory and refuses anything that would leave it; the syntactic checks
/// before it only make the log say why.
fn open_confined(root: &Dir, path: &str) -> Result<(File, u64)> {
    if path.is_empty()
        || path.starts_with('/')
        || path.contains(['\0', '\\'])
        || path.split('/').any(|segment| segment == "..")
    {
        bail!("file path {path:?} is not a relative path below the root");
    }
    let file = root
        .open(path)
        .with_context(|| format!("cannot open {path:?} below the root"))?
        .into_std();
    let meta = file.metadata()?;
    if !meta.is_file() {
        bail!("{path:?} is not a regular file");
    }
    Ok((file, meta.len()))
}

impl Plan {
    /// Replaces file pieces by their bytes, so that a file that shrank since the guest
    /// looked at it is a 500 now rather than a response cut short later.
    fn read_small_files(&mut self) -> Result<()> {
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

/// Writes the head and the body; returns the number of bytes sent.
pub async fn send(stream: &mut TcpStream, head: &[u8], plan: &Plan) -> io::Result<u64> {
    // The head and every leading in-memory piece go out in one write.
    let mut first = Vec::with_capacity(head.len() + plan.len.min(COALESCE_LIMIT) as usize);
    first.extend_from_slice(head);
    let mut rest = plan.pieces.iter().peekable();
    while let Some(Piece::Bytes(bytes)) = rest.peek() {
        first.extend_from_slice(bytes);
        rest.next();
    }
    if rest.peek().is_none() {
        stream.write_all(&first).await?;
        return Ok(head.len() as u64 + plan.len);
    }
    // More follows: MSG_MORE lets the kernel put the head in the same segment as the
    // start of the file instead of sending a small packet of its own (nginx's
    // tcp_nopush does the same with TCP_CORK).
    write_more(stream, &first).await?;
    while let Some(piece) = rest.next() {
        match piece {
            Piece::Bytes(bytes) if rest.peek().is_some() => write_more(stream, bytes).await?,
            Piece::Bytes(bytes) => stream.write_all(bytes).await?,
            Piece::File {
                file,
                offset,
                length,
            } => sendfile_all(stream, file, *offset, *length).await?,
        }
    }
    Ok(head.len() as u64 + plan.len)
}

/// `send(2)` with MSG_MORE until all of `bytes` is out.
async fn write_more(stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        let sent = stream.try_io(Interest::WRITABLE, || {
            rustix::net::send(stream, bytes, rustix::net::SendFlags::MORE).map_err(io::Error::from)
        });
        match sent {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `sendfile(2)` until `length` bytes are out, waiting for the socket when it is full.
async fn sendfile_all(stream: &TcpStream, file: &File, offset: u64, length: u64) -> io::Result<()> {
    let (mut offset, end) = (offset, offset + length);
    while offset < end {
        stream.writable().await?;
        let count = (end - offset).min(1 << 30) as usize;
        let sent = stream.try_io(Interest::WRITABLE, || {
            let mut at = offset;
            rustix::fs::sendfile(stream, file, Some(&mut at), count).map_err(io::Error::from)
        });
        match sent {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being sent",
                ));
            }
            Ok(n) => offset += n as u64,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
