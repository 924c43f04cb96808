//! Opaque byte payloads (pickled Python objects) stored as one zstd frame.

use std::io::Write;

use crate::bytes::{read_consistently, CountingWriter, Sink};
use crate::error::{FastIoError, Result};
use crate::store::{Location, UploadOptions};

/// Compresses `data` with zstd on all cores into `location`, replaced atomically.
///
/// Returns the stored size in bytes and the number of upload parts.
pub fn write_zstd(
    location: Location,
    data: &[u8],
    level: i32,
    fsync: bool,
    upload: UploadOptions,
) -> Result<(u64, u64)> {
    let context = "compressing an object";
    let sink = CountingWriter::new(Sink::create(location, upload, fsync)?);
    let mut encoder =
        zstd::stream::Encoder::new(sink, level).map_err(|e| FastIoError::io(context, e))?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    if workers > 1 && data.len() > 1 << 20 {
        // zstd's own worker threads split large payloads into independently compressed jobs.
        encoder
            .multithread(workers)
            .map_err(|e| FastIoError::io(context, e))?;
    }
    encoder
        .set_pledged_src_size(Some(data.len() as u64))
        .map_err(|e| FastIoError::io(context, e))?;
    encoder
        .include_contentsize(true)
        .map_err(|e| FastIoError::io(context, e))?;
    encoder
        .write_all(data)
        .map_err(|e| FastIoError::io(context, e))?;
    let mut sink = encoder.finish().map_err(|e| FastIoError::io(context, e))?;
    sink.flush().map_err(|e| FastIoError::io(context, e))?;
    let size = sink.written();
    let parts = sink.into_inner().commit()?;
    Ok((size, parts))
}

/// Reads and decompresses an object written by [`write_zstd`].
pub fn read_zstd(location: &Location) -> Result<Vec<u8>> {
    read_consistently(location, |source| {
        let compressed = source.read_range(0..source.size())?;
        decompress(compressed.as_slice(), source.name())
    })
}

/// Reads a whole file or object as it is stored, from one version of it: a payload another
/// program wrote (the plain pickles of the I/O managers this package replaces).
pub fn read_raw(location: &Location) -> Result<arrow_buffer::Buffer> {
    match location {
        // Not through `bytes::open`, which refuses an empty file: an empty payload is one.
        Location::Local(path) => std::fs::read(path)
            .map(arrow_buffer::Buffer::from_vec)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => FastIoError::NotFound(path.display().to_string()),
                _ => FastIoError::io(format!("reading {}", path.display()), e),
            }),
        Location::Remote(_) => {
            read_consistently(location, |source| source.read_range(0..source.size()))
        }
    }
}

fn decompress(compressed: &[u8], name: &str) -> Result<Vec<u8>> {
    if compressed.is_empty() {
        return Err(FastIoError::Corrupt(format!("{name} is empty")));
    }
    // The frame's recorded size is a hint, not a promise: damaged bytes could claim any size,
    // so the buffer starts at what the compressed size makes plausible and grows if needed.
    let recorded = zstd::zstd_safe::get_frame_content_size(compressed)
        .ok()
        .flatten()
        .unwrap_or(0);
    let plausible = (compressed.len() as u64).saturating_mul(64) + (1 << 20);
    let mut data = Vec::with_capacity(recorded.min(plausible) as usize);
    zstd::stream::copy_decode(compressed, &mut data)
        .map_err(|e| FastIoError::Corrupt(format!("{name} is not a readable zstd frame: {e}")))?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Compresses `data` into a local file; see [`write_zstd`].
    fn write_zstd_file(path: &Path, data: &[u8], level: i32, fsync: bool) -> Result<u64> {
        let location = Location::Local(path.to_path_buf());
        write_zstd(location, data, level, fsync, UploadOptions::default()).map(|(size, _)| size)
    }

    /// Reads and decompresses a local file written by [`write_zstd_file`].
    fn read_zstd_file(path: &Path) -> Result<Vec<u8>> {
        read_zstd(&Location::Local(path.to_path_buf()))
    }

    #[test]
    fn round_trips_and_reports_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object.pickle.zst");
        let data: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| (i % 1000).to_le_bytes())
            .collect();
        let stored = write_zstd_file(&path, &data, 1, false).unwrap();
        assert_eq!(stored, std::fs::metadata(&path).unwrap().len());
        assert!(stored < data.len() as u64 / 4);
        assert_eq!(read_zstd_file(&path).unwrap(), data);

        let mut damaged = std::fs::read(&path).unwrap();
        damaged.truncate(damaged.len() / 2);
        std::fs::write(&path, damaged).unwrap();
        assert!(matches!(
            read_zstd_file(&path),
            Err(FastIoError::Corrupt(_))
        ));
        assert!(matches!(
            read_zstd_file(&dir.path().join("missing")),
            Err(FastIoError::NotFound(_))
        ));
    }
}
