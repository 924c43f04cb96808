//! Sinks: a local file (a temporary file beside the target, renamed over it at the end) or an
//! object-store upload; either way the output appears complete or not at all.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::error::{FastIoError, Result};
use crate::store::{Location, UploadOptions, UploadSink};

/// The longest file name most file systems take, in bytes.
const NAME_MAX: usize = 255;

/// Bytes a temporary name adds to the target's: two dots, the slot (up to six digits), ".tmp".
const TEMPORARY_EXTRA: usize = 12;

/// Slots tried before giving up: as many writers of one target at once as anyone would run.
const MAX_SLOTS: usize = 1000;

/// Large writes skip the buffer; it only gathers the small message headers and padding.
const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// A file that appears at its path complete or not at all.
///
/// It is written as `.{name}.{slot}.tmp` beside the target, then renamed over it. The writer
/// holds a lock on that file for its whole life, and the kernel drops the lock when the process
/// dies; a writer takes the lowest slot no live writer holds, so the file a killed writer left
/// is reused by the next write of the same target instead of accumulating (`fastio clean`
/// finds those of targets never written again). No folder is listed on the way: a partition
/// folder of thousands of files costs a write nothing more.
///
/// Readers of the old file keep a consistent view (a rename never changes an open inode), and
/// a failed or abandoned write leaves the previous version in place: dropping an uncommitted
/// `AtomicFile` deletes its temporary file.
pub struct AtomicFile {
    target: PathBuf,
    temp_path: PathBuf,
    temp: Option<BufWriter<File>>,
    fsync: bool,
    written: u64,
}

impl AtomicFile {
    /// Takes a temporary file (and creates any missing parent folders).
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
        // Most file systems stop at 255 bytes: a long name is shortened in the temporary one,
        // so every name that fits as the target can be written.
        let mut kept = name.len().min(NAME_MAX - TEMPORARY_EXTRA);
        while !name.is_char_boundary(kept) {
            kept -= 1;
        }
        let context = || format!("creating a temporary file in {}", folder.display());
        for slot in 0..MAX_SLOTS {
            let temp_path = folder.join(format!(".{}.{slot}.tmp", &name[..kept]));
            if let Some(file) = take_slot(&temp_path).map_err(|e| FastIoError::io(context(), e))? {
                return Ok(AtomicFile {
                    target,
                    temp_path,
                    temp: Some(BufWriter::with_capacity(WRITE_BUFFER_BYTES, file)),
                    fsync,
                    written: 0,
                });
            }
        }
        Err(FastIoError::io(
            context(),
            std::io::Error::other(format!("{MAX_SLOTS} writers of {name} are running")),
        ))
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    fn file(&mut self) -> &mut BufWriter<File> {
        self.temp
            .as_mut()
            .expect("an AtomicFile is used until committed")
    }

    /// Moves the finished file into place, replacing any previous version atomically.
    pub fn commit(mut self) -> Result<()> {
        let context = || format!("writing {}", self.target.display());
        let file = self
            .temp
            .take()
            .expect("committed once")
            .into_inner()
            .map_err(|e| FastIoError::io(context(), e.into_error()));
        let file = match file {
            Ok(file) => file,
            Err(error) => {
                self.remove_temporary();
                return Err(error);
            }
        };
        if self.fsync {
            if let Err(e) = file.sync_all() {
                self.remove_temporary();
                return Err(FastIoError::io(context(), e));
            }
        }
        // The lock is held through the rename and released when `file` closes after it.
        if let Err(e) = std::fs::rename(&self.temp_path, &self.target) {
            self.remove_temporary();
            return Err(FastIoError::io(context(), e));
        }
        drop(file);
        if self.fsync {
            if let Some(parent) = self.target.parent().filter(|p| !p.as_os_str().is_empty()) {
                // The rename itself is durable only once the folder entry is on disk.
                File::open(parent)
                    .and_then(|dir| dir.sync_all())
                    .map_err(|e| FastIoError::io(context(), e))?;
            }
        }
        Ok(())
    }

    fn remove_temporary(&self) {
        // Still ours: no one else can hold this file while we have not closed it.
        let _ = std::fs::remove_file(&self.temp_path);
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(file) = self.temp.take() {
            // Unlinked before it is closed, so no other writer can take it half-written.
            self.remove_temporary();
            drop(file);
        }
    }
}

/// Opens the temporary file at `path` for a new write, or answers None when a live writer
/// holds it. A file there that no writer holds was left by a writer that died: it is emptied
/// and reused.
fn take_slot(path: &Path) -> std::io::Result<Option<File>> {
    let mut options = OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o666);
    }
    let (file, created) = match options.clone().create_new(true).open(path) {
        Ok(file) => (file, true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => match options.open(path) {
            Ok(file) => (file, false),
            // Renamed into place or removed since: the slot is taken or free, try the next.
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        },
        Err(e) => return Err(e),
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(None),
        // No locks on this file system: a file we created is ours, one we found may be live.
        Err(TryLockError::Error(_)) if created => return Ok(Some(file)),
        Err(TryLockError::Error(_)) => return Ok(None),
    }
    if !created && !is_at(&file, path)? {
        // Between our open and our lock its writer renamed it into place (and another file
        // may have taken the name): what we hold is no longer a temporary file.
        return Ok(None);
    }
    if !created {
        file.set_len(0)?;
    }
    Ok(Some(file))
}

/// Whether `path` still names the file `file` has open.
fn is_at(file: &File, path: &Path) -> std::io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let (open, named) = (
            file.metadata()?,
            match std::fs::metadata(path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            },
        );
        Ok(open.dev() == named.dev() && open.ino() == named.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        Ok(false)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file().write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.file().write_all(buf)?;
        self.written += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file().flush()
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

/// Counts the bytes written through it: the stored size of a file.
pub(crate) struct CountingWriter<W> {
    inner: W,
    written: u64,
}

impl<W> CountingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        CountingWriter { inner, written: 0 }
    }

    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    pub(crate) fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(buf)?;
        self.written += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
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

    fn temporary_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".tmp"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_dead_writers_file_is_reused_and_a_live_ones_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("table.arrow");
        // What a killed writer leaves: slot 0, written to, unlocked.
        std::fs::write(dir.path().join(".table.arrow.0.tmp"), b"half a file").unwrap();
        let mut first = AtomicFile::create(&target, false).unwrap();
        assert_eq!(first.temp_path, dir.path().join(".table.arrow.0.tmp"));
        // A second writer of the same target while the first is live takes the next slot.
        let mut second = AtomicFile::create(&target, false).unwrap();
        assert_eq!(second.temp_path, dir.path().join(".table.arrow.1.tmp"));
        first.write_all(b"one").unwrap();
        second.write_all(b"two").unwrap();
        first.commit().unwrap();
        assert_eq!(
            std::fs::read(&target).unwrap(),
            b"one",
            "the leftover was emptied"
        );
        second.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        assert!(temporary_files(dir.path()).is_empty());
    }

    #[test]
    fn a_locked_file_in_a_slot_is_never_taken() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.arrow");
        let held = dir.path().join(".t.arrow.0.tmp");
        std::fs::write(&held, b"someone else's").unwrap();
        let holder = File::open(&held).unwrap();
        holder.try_lock().unwrap();
        let file = AtomicFile::create(&target, false).unwrap();
        assert_eq!(file.temp_path, dir.path().join(".t.arrow.1.tmp"));
        drop(file);
        assert_eq!(std::fs::read(&held).unwrap(), b"someone else's");
        assert_eq!(temporary_files(dir.path()), [".t.arrow.0.tmp"]);
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
