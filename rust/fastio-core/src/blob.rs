//! Opaque byte payloads (pickled Python objects) stored as one zstd frame.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use crate::error::{FastIoError, Result};
use crate::sink::AtomicFile;

/// Compresses `data` with zstd on all cores into `path`, replaced atomically.
///
/// Returns the stored size in bytes.
pub fn write_zstd_file(path: &Path, data: &[u8], level: i32, fsync: bool) -> Result<u64> {
    let file = AtomicFile::create(path, fsync)?;
    let context = || format!("writing {}", path.display());
    let mut encoder =
        zstd::stream::Encoder::new(file, level).map_err(|e| FastIoError::io(context(), e))?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    if workers > 1 && data.len() > 1 << 20 {
        // zstd's own worker threads split large payloads into independently compressed jobs.
        encoder
            .multithread(workers)
            .map_err(|e| FastIoError::io(context(), e))?;
    }
    encoder
        .set_pledged_src_size(Some(data.len() as u64))
        .map_err(|e| FastIoError::io(context(), e))?;
    encoder
        .include_contentsize(true)
        .map_err(|e| FastIoError::io(context(), e))?;
    encoder
        .write_all(data)
        .map_err(|e| FastIoError::io(context(), e))?;
    let mut file = encoder
        .finish()
        .map_err(|e| FastIoError::io(context(), e))?;
    file.flush().map_err(|e| FastIoError::io(context(), e))?;
    let size = file.bytes_written();
    file.commit()?;
    Ok(size)
}

/// Reads and decompresses a file written by [`write_zstd_file`].
pub fn read_zstd_file(path: &Path) -> Result<Vec<u8>> {
    let mut file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => FastIoError::NotFound(path.display().to_string()),
        _ => FastIoError::io(format!("opening {}", path.display()), e),
    })?;
    let mut compressed = Vec::new();
    file.read_to_end(&mut compressed)
        .map_err(|e| FastIoError::io(format!("reading {}", path.display()), e))?;
    if compressed.is_empty() {
        return Err(FastIoError::Corrupt(format!("{} is empty", path.display())));
    }
    // The frame's recorded size is a hint, not a promise: damaged bytes could claim any size,
    // so the buffer starts at what the compressed size makes plausible and grows if needed.
    let recorded = zstd::zstd_safe::get_frame_content_size(&compressed)
        .ok()
        .flatten()
        .unwrap_or(0);
    let plausible = (compressed.len() as u64).saturating_mul(64) + (1 << 20);
    let mut data = Vec::with_capacity(recorded.min(plausible) as usize);
    zstd::stream::copy_decode(compressed.as_slice(), &mut data).map_err(|e| {
        FastIoError::Corrupt(format!(
            "{} is not a readable zstd frame: {e}",
            path.display()
        ))
    })?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

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
