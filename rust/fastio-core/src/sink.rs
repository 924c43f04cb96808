//! Sinks: a local file (a temporary file beside the target, renamed over it at the end) or an
//! object-store upload; either way the output appears complete or not at all.

use std::fs::{File, TryLockError};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::NamedTempFile;

use crate::error::{FastIoError, Result};
use crate::store::upload::UploadSink;
use crate::store::{Location, UploadOptions};

/// The longest file name most file systems take, in bytes.
const NAME_MAX: usize = 255;

/// Large writes skip the buffer; it only gathers the small message headers and padding.
const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// Random characters tempfile puts in a temporary name.
const RANDOM_CHARS: usize = 6;

/// A killed writer cannot delete its temporary file. One that no process holds locked and that
/// is this old is such a leftover; the age covers only the instant between a writer creating
/// its temporary file and locking it.
const LEFTOVER_AGE: Duration = Duration::from_secs(60);

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
        // Leftovers of earlier writes of this target that died go now, so a target that is
        // written again never accumulates them (`fastio clean` finds the others).
        reclaim_leftovers(&folder, &prefix);
        let mut builder = tempfile::Builder::new();
        builder
            .prefix(&prefix)
            .suffix(".tmp")
            .rand_bytes(RANDOM_CHARS);
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
        // Held until the file is closed, and released by the kernel when its process dies:
        // whoever can take this lock knows no live writer has the file. Where the file system
        // has no locks, nothing is ever reclaimed, which is the safe way to fail.
        let _ = temp.as_file().try_lock();
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

/// Deletes the temporary files named `prefix` + random characters + ".tmp" in `folder` that no
/// live writer holds. Best effort: a write must not fail over someone else's leftover.
fn reclaim_leftovers(folder: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let random = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"));
        if random.is_some_and(|r| {
            r.len() == RANDOM_CHARS && r.bytes().all(|b| b.is_ascii_alphanumeric())
        }) {
            let _ = remove_if_abandoned(&entry.path(), LEFTOVER_AGE);
        }
    }
}

/// Deletes `path` if it was last modified at least `min_age` ago and no process holds its lock
/// (see [`AtomicFile::create`]); returns whether it did.
pub(crate) fn remove_if_abandoned(path: &Path, min_age: Duration) -> std::io::Result<bool> {
    let file = File::open(path)?;
    let age = file.metadata()?.modified()?.elapsed().unwrap_or_default();
    if age < min_age {
        return Ok(false);
    }
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(false),
        Err(TryLockError::Error(error)) => return Err(error),
    }
    std::fs::remove_file(path)?;
    Ok(true)
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

    /// A file named as a temporary file of `target`, last modified `age` ago.
    fn leftover(target: &Path, random: &str, age: Duration) -> PathBuf {
        let name = target.file_name().unwrap().to_str().unwrap();
        let path = target.with_file_name(format!(".{name}.{random}.tmp"));
        let file = File::create(&path).unwrap();
        file.set_modified(std::time::SystemTime::now() - age)
            .unwrap();
        path
    }

    #[test]
    fn a_write_reclaims_its_targets_abandoned_temporary_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("table.arrow");
        let old = Duration::from_secs(600);
        let abandoned = leftover(&target, "aB3dE9", old);
        let fresh = leftover(&target, "fresh1", Duration::ZERO);
        let held = leftover(&target, "held22", old);
        let holder = File::open(&held).unwrap();
        holder.try_lock().unwrap();
        let other = leftover(&dir.path().join("other.arrow"), "aB3dE9", old);
        let mut file = AtomicFile::create(&target, false).unwrap();
        // A live writer's own temporary file is locked: another write leaves it alone.
        let live = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| ![&abandoned, &fresh, &held, &other].contains(&p))
            .unwrap();
        assert!(!remove_if_abandoned(&live, Duration::ZERO).unwrap());
        file.write_all(b"new").unwrap();
        file.commit().unwrap();
        assert!(!abandoned.exists());
        assert!(fresh.exists() && held.exists() && other.exists());
        drop(holder);
        assert!(remove_if_abandoned(&held, Duration::ZERO).unwrap());
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
