//! Sinks: a local file (a temporary file beside the target, renamed over it at the end) or an
//! object-store upload; either way the output appears complete or not at all.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{FastIoError, Result};
use crate::store::upload::UploadSink;
use crate::store::{Location, UploadOptions};

/// The longest file name most file systems take, in bytes.
const NAME_MAX: usize = 255;

/// Large writes skip the buffer; it only gathers the small message headers and padding.
const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// A file that appears at its path complete or not at all.
///
/// Readers of the old file keep a consistent view (a rename never changes an open inode), and
/// a failed or abandoned write leaves the previous version in place: dropping an uncommitted
/// `AtomicFile` deletes the temporary file.
pub struct AtomicFile {
    target: PathBuf,
    temp: BufWriter<NamedTempFile>,
    fsync: bool,
    written: u64,
}

impl AtomicFile {
    /// Creates the temporary file (and any missing parent folders).
    pub fn create(target: impl AsRef<Path>, fsync: bool) -> Result<Self> {
        let target = target.as_ref().to_path_buf();
        let name = target
            .file_name()
            .ok_or_else(|| {
                FastIoError::InvalidArgument(format!("not a file path: {}", target.display()))
            })?
            .to_string_lossy()
            .into_owned();
        let folder = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&folder)
            .map_err(|e| FastIoError::io(format!("creating folder {}", folder.display()), e))?;
        // The temporary name adds 12 bytes (dot, dot, six random characters, ".tmp") to the
        // target's, and most file systems stop at 255: a long name is shortened in the
        // temporary one, so every name that fits as the target can be written.
        let mut kept = name.len().min(NAME_MAX - 12);
        while !name.is_char_boundary(kept) {
            kept -= 1;
        }
        let prefix = format!(".{}.", &name[..kept]);
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // tempfile defaults to 0600; a finished file should get the usual umask-governed mode.
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let temp = builder.tempfile_in(&folder).map_err(|e| {
            FastIoError::io(
                format!("creating a temporary file in {}", folder.display()),
                e,
            )
        })?;
        Ok(AtomicFile {
            target,
            temp: BufWriter::with_capacity(WRITE_BUFFER_BYTES, temp),
            fsync,
            written: 0,
        })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Moves the finished file into place, replacing any previous version atomically.
    pub fn commit(self) -> Result<()> {
        let target = self.target;
        let context = || format!("writing {}", target.display());
        let temp = self
            .temp
            .into_inner()
            .map_err(|e| FastIoError::io(context(), e.into_error()))?;
        if self.fsync {
            temp.as_file()
                .sync_all()
                .map_err(|e| FastIoError::io(context(), e))?;
        }
        temp.persist(&target)
            .map_err(|e| FastIoError::io(context(), e.error))?;
        if self.fsync {
            if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                // The rename itself is durable only once the folder entry is on disk.
                File::open(parent)
                    .and_then(|dir| dir.sync_all())
                    .map_err(|e| FastIoError::io(context(), e))?;
            }
        }
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.temp.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.temp.write_all(buf)?;
        self.written += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.temp.flush()
    }
}

/// Where an encoder's bytes go.
pub enum Sink {
    File(AtomicFile),
    Upload(UploadSink),
}

impl Sink {
    /// Opens `location` for writing; nothing is visible there before `commit`.
    pub fn create(location: Location, upload: UploadOptions, fsync: bool) -> Result<Self> {
        match location {
            Location::Local(path) => AtomicFile::create(path, fsync).map(Sink::File),
            Location::Remote(object) => UploadSink::new(object, upload).map(Sink::Upload),
        }
    }

    /// Publishes the output; returns the number of upload parts (1 for a local file).
    pub fn commit(self) -> Result<u64> {
        self.commit_unless(&mut || Ok(()))
    }

    /// Publishes the output unless `interrupt` fails first (it is asked just before, and while
    /// an upload waits for its last parts); then nothing is published and the previous
    /// version stays.
    pub fn commit_unless(self, interrupt: &mut dyn FnMut() -> Result<()>) -> Result<u64> {
        match self {
            Sink::File(file) => {
                interrupt()?;
                file.commit().map(|()| 1)
            }
            Sink::Upload(upload) => upload.commit(interrupt),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::File(file) => file.write(buf),
            Sink::Upload(upload) => upload.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::File(file) => file.write_all(buf),
            Sink::Upload(upload) => upload.write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::File(file) => file.flush(),
            Sink::Upload(upload) => upload.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_replaces_and_drop_keeps_the_old_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/table.arrow");
        let mut first = AtomicFile::create(&path, true).unwrap();
        first.write_all(b"version one").unwrap();
        first.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"version one");

        let mut abandoned = AtomicFile::create(&path, false).unwrap();
        abandoned.write_all(b"half of version two").unwrap();
        drop(abandoned);
        assert_eq!(std::fs::read(&path).unwrap(), b"version one");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("table.arrow")]);
    }

    #[test]
    fn names_up_to_the_file_system_limit_can_be_written() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "a".repeat(NAME_MAX),
            format!("{}é", "b".repeat(NAME_MAX - 13)),
        ] {
            let target = dir.path().join(&name);
            let mut file = AtomicFile::create(&target, false).unwrap();
            file.write_all(b"payload").unwrap();
            file.commit().unwrap();
            assert_eq!(std::fs::read(&target).unwrap(), b"payload");
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
