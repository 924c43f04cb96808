//! Local files into memory: read (the default, safe whatever another program does to the file)
//! or memory-mapped (zero-copy, on request).
//!
//! A mapping is only as stable as the file under it: when another program truncates and
//! rewrites the file in place while its pages are mapped (pyarrow's `write_feather` and polars'
//! `write_ipc` do), touching a page past the new end raises SIGBUS and kills the process. A
//! read copies the bytes once (measured: 79-85 ms for 507 MB of uncompressed flights from the
//! page cache on two cores, as pyarrow's default read), and a file that shrinks meanwhile is a
//! clean error.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;

use arrow_buffer::{Buffer, MutableBuffer};
use memmap2::Mmap;
use rayon::prelude::*;

use crate::bytes::RangeRead;
use crate::error::{FastIoError, Result};

/// Pieces read in parallel; small enough that both cores share a file of a few of them.
const READ_PIECE: usize = 8 << 20;

/// Opens `path` for reading, refusing what is not a regular, non-empty file (a FIFO would
/// block forever, a folder gives the operating system's puzzling answer).
fn open_regular(path: &Path) -> Result<(File, u64)> {
    let name = || path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => FastIoError::NotFound(name()),
        _ => FastIoError::io(format!("reading {}", name()), e),
    })?;
    if metadata.is_dir() {
        return Err(FastIoError::InvalidArgument(format!(
            "{} is a folder, not an Arrow IPC file",
            name()
        )));
    }
    if !metadata.is_file() {
        return Err(FastIoError::InvalidArgument(format!(
            "{} is not a regular file (a pipe or a device?)",
            name()
        )));
    }
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => FastIoError::NotFound(name()),
        _ => FastIoError::io(format!("opening {}", name()), e),
    })?;
    let len = file
        .metadata()
        .map_err(|e| FastIoError::io(format!("reading {}", name()), e))?
        .len();
    if len == 0 {
        return Err(FastIoError::Corrupt(format!("{} is empty", name())));
    }
    Ok((file, len))
}

/// An open local file, read range by range: the handle keeps the inode it opened, so a file
/// replaced by rename meanwhile is still read whole, in the version the read began with.
pub(crate) struct LocalFile {
    file: File,
    len: u64,
    name: String,
}

impl LocalFile {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let (file, len) = open_regular(path)?;
        Ok(LocalFile {
            file,
            len,
            name: path.display().to_string(),
        })
    }

    /// The whole file.
    pub(crate) fn read_all(&self) -> Result<Buffer> {
        usize::try_from(self.len)
            .map_err(|_| FastIoError::InvalidArgument(format!("{} is too large", self.name)))?;
        self.read_range(0..self.len)
    }
}

impl RangeRead for LocalFile {
    /// Size in bytes when opened.
    fn size(&self) -> u64 {
        self.len
    }

    /// Reads the range into one 64-byte-aligned buffer, in parallel pieces when large; a file
    /// that became shorter meanwhile is reported as corrupt.
    fn read_range(&self, range: Range<u64>) -> Result<Buffer> {
        let (offset, length) = (range.start, (range.end - range.start) as usize);
        // Fresh zeroed memory comes from the operating system already zero, so this costs no
        // extra pass over the bytes.
        let mut buffer = MutableBuffer::from_len_zeroed(length);
        let read_piece = |(index, piece): (usize, &mut [u8])| -> Result<()> {
            self.read_exact_at(piece, offset + (index * READ_PIECE) as u64)
        };
        let bytes = buffer.as_slice_mut();
        if length > READ_PIECE {
            crate::pool::pool().install(|| {
                bytes
                    .par_chunks_mut(READ_PIECE)
                    .enumerate()
                    .try_for_each(read_piece)
            })?;
        } else {
            read_piece((0, bytes))?;
        }
        Ok(buffer.into())
    }

    fn read_into(&self, start: u64, out: &mut [u8]) -> Result<()> {
        self.read_exact_at(out, start)
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl LocalFile {
    /// All of `out` from `start`; a file that became shorter meanwhile is reported as corrupt.
    fn read_exact_at(&self, out: &mut [u8], start: u64) -> Result<()> {
        let mut done = 0;
        while done < out.len() {
            match self.file.read_at(&mut out[done..], start + done as u64) {
                Ok(0) => {
                    return Err(FastIoError::Corrupt(format!(
                        "{} became shorter while it was read (another program rewrote it?)",
                        self.name
                    )))
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FastIoError::io(format!("reading {}", self.name), e)),
            }
        }
        Ok(())
    }
}

/// Maps a local file into memory as an Arrow buffer; nothing is read until it is touched.
///
/// Zero-copy, but see the module note: another program truncating the file while the buffer
/// (or any array pointing into it) is alive kills the process with SIGBUS.
pub fn map_file(path: &Path) -> Result<Buffer> {
    let (file, _) = open_regular(path)?;
    // Safety: our writers replace files by rename, never in place, so the mapped pages do not
    // change under a reader; a foreign in-place rewrite is the documented risk of asking for
    // a map.
    let mmap = unsafe { Mmap::map(&file) }
        .map_err(|e| FastIoError::io(format!("mapping {}", path.display()), e))?;
    let ptr = NonNull::new(mmap.as_ptr() as *mut u8).expect("a mapping is never null");
    let len = mmap.len();
    // Safety: `ptr` and `len` describe the mapping, which the Arc keeps alive for as long as
    // any array refers to it.
    Ok(unsafe { Buffer::from_custom_allocation(ptr, len, Arc::new(mmap)) })
}
