//! Where bytes live: local paths (memory-mapped, replaced by rename) or objects in a store
//! reached through object_store (S3, GCS, Azure, in-memory).
//!
//! Stores are built once per process and configuration and shared, so their connection pools
//! are reused. Everything asynchronous runs on one tokio runtime, created lazily and rebuilt
//! in a forked child, where the parent's runtime threads do not exist.

pub(crate) mod column_ranges;
mod config;
pub mod fetch;
pub mod plan;
mod redact;
mod runtime;
pub mod upload;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use url::Url;

use crate::error::{FastIoError, Result};
use redact::Redactor;

pub use config::{StoreOptions, UploadOptions};
pub use runtime::runtime;

/// A parsed destination or source.
pub enum Location {
    Local(PathBuf),
    Remote(RemoteObject),
}

/// One object in a store, with what is needed to report errors about it safely.
#[derive(Clone)]
pub struct RemoteObject {
    pub store: Arc<dyn ObjectStore>,
    pub path: ObjectPath,
    /// The URI as the caller gave it, for messages.
    pub uri: String,
    /// Keeps credentials out of the messages of errors about this object.
    redactor: Arc<Redactor>,
    /// The version every request of one read is held to, once [`RemoteObject::pin`] chose it.
    pin: Option<Arc<Pin>>,
}

/// What identifies one version of an object: its ETag, and its version id where the store
/// keeps versions (S3 with versioning, GCS generations, Azure versions).
#[derive(Debug)]
struct Pin {
    e_tag: Option<String>,
    version: Option<String>,
    size: u64,
}

/// Whole reads restarted after the object changed under them, before giving up.
pub const CHANGED_READ_ATTEMPTS: usize = 3;

/// Runs a whole read again when the object was replaced during it (`FastIoError::Changed`),
/// up to [`CHANGED_READ_ATTEMPTS`] times; each attempt pins the version it sees first.
pub fn retry_if_changed<T>(mut read: impl FnMut() -> Result<T>) -> Result<T> {
    let mut attempt = 1;
    loop {
        match read() {
            Err(FastIoError::Changed(_)) if attempt < CHANGED_READ_ATTEMPTS => attempt += 1,
            result => return result,
        }
    }
}

/// URI schemes of object stores, as they are written before "://".
const STORE_SCHEMES: [&str; 10] = [
    "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "azure", "adl", "memory",
];

/// Schemes accepted besides plain paths, for the error that lists them.
const SCHEMES: &str = "file://, s3://, s3a://, gs://, gcs://, az://, abfs://, abfss://, memory://";

impl Location {
    /// Parses `uri`: a plain path or `file://` URI is local, anything else names a store.
    pub fn parse(uri: &str, options: &StoreOptions) -> Result<Location> {
        let Some((scheme, _)) = uri.split_once("://") else {
            if uri.is_empty() {
                return Err(FastIoError::InvalidArgument("the path is empty".into()));
            }
            if let Some((scheme, _)) = uri.split_once(":/") {
                if STORE_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
                    // "s3:/bucket/key" would otherwise become a folder named "s3:" here.
                    return Err(FastIoError::InvalidArgument(format!(
                        "{uri:?} looks like a {scheme}:// URI with one slash missing; a local \
                         path cannot start with a store's scheme"
                    )));
                }
            }
            return Ok(Location::Local(PathBuf::from(uri)));
        };
        let scheme = scheme.to_ascii_lowercase();
        let url = Url::parse(uri).map_err(|e| {
            FastIoError::InvalidArgument(format!("{uri:?} is not a valid URI: {e}"))
        })?;
        if scheme == "file" {
            if !matches!(url.host_str(), None | Some("") | Some("localhost")) {
                return Err(FastIoError::InvalidArgument(format!(
                    "{uri:?} names another host; file:// URIs must be local"
                )));
            }
            return url.to_file_path().map(Location::Local).map_err(|()| {
                FastIoError::InvalidArgument(format!("{uri:?} is not a local file path"))
            });
        }
        // The key is taken as written, not percent-decoded: "%2F" in a partition key's escape
        // must stay those three characters, as it does in a local file name.
        let after_scheme = &uri[scheme.len() + 3..];
        let (bucket, key) = after_scheme.split_once('/').unwrap_or((after_scheme, ""));
        if bucket.is_empty() && scheme != "memory" {
            return Err(FastIoError::InvalidArgument(format!(
                "{uri:?} names no bucket or container: expected {scheme}://<bucket>/<key>"
            )));
        }
        let path = ObjectPath::parse(key).map_err(|e| {
            FastIoError::InvalidArgument(format!("{uri:?} is not a valid object path: {e}"))
        })?;
        if path.as_ref().is_empty() {
            return Err(FastIoError::InvalidArgument(format!(
                "{uri:?} names a bucket or container, not an object"
            )));
        }
        let store = match scheme.as_str() {
            "memory" => memory_store(),
            "s3" | "s3a" | "gs" | "gcs" | "az" | "abfs" | "abfss" | "azure" | "adl" => {
                cached_store(&scheme, &url, options)?
            }
            _ => {
                return Err(FastIoError::InvalidArgument(format!(
                    "unsupported URI scheme {scheme:?} in {uri:?}; expected a local path or \
                     one of {SCHEMES}"
                )))
            }
        };
        Ok(Location::Remote(RemoteObject {
            store,
            path,
            uri: uri.to_string(),
            redactor: Arc::new(options.redactor()),
            pin: None,
        }))
    }
}

impl RemoteObject {
    /// A store error as a core error naming this object, with credentials redacted.
    pub fn error(&self, error: object_store::Error) -> FastIoError {
        match error {
            object_store::Error::NotFound { .. } if self.pin.is_some() => {
                // It existed when the read began: deleted since, which is a change too.
                return FastIoError::Changed(self.uri.clone());
            }
            // A PUT or a listing answered NoSuchBucket: not "no such object", which an Optional
            // input or allow_missing_partitions would take as "not materialized yet".
            _ if names_a_missing_bucket(&error) => return self.missing_bucket(&error),
            object_store::Error::NotFound { .. } => return FastIoError::NotFound(self.uri.clone()),
            object_store::Error::Precondition { .. } if self.pin.is_some() => {
                return FastIoError::Changed(self.uri.clone());
            }
            // A pinned read asks only for ranges inside the pinned version's size: a range the
            // server cannot satisfy means the object is another version now (seen on moto,
            // which answers a GET during a replacing PUT with a 416 on an empty object).
            _ if self.pin.is_some() && describe(&error).contains("416 Range Not Satisfiable") => {
                return FastIoError::Changed(self.uri.clone());
            }
            _ => {}
        }
        FastIoError::Store {
            uri: self.uri.clone(),
            message: self.redact(describe(&error)),
        }
    }

    /// The error of a request the store refused because the bucket or container is not there.
    fn missing_bucket(&self, error: &object_store::Error) -> FastIoError {
        FastIoError::Store {
            uri: self.uri.clone(),
            message: self.redact(format!(
                "the bucket or container does not exist: {}",
                describe(error)
            )),
        }
    }

    /// A failure that is not an object_store error (a task that panicked, a bad reply).
    pub fn failure(&self, message: impl Into<String>) -> FastIoError {
        FastIoError::Store {
            uri: self.uri.clone(),
            message: self.redact(message.into()),
        }
    }

    fn redact(&self, message: String) -> String {
        self.redactor.redact(&message)
    }

    /// Size in bytes, or `NotFound`.
    pub fn size(&self) -> Result<u64> {
        self.head().map(|meta| meta.size)
    }

    /// The object's metadata. A HEAD answer carries no body, so a missing bucket and a missing
    /// object both arrive as a bare 404; a one-key listing then tells them apart, because a
    /// mistyped bucket must be a `StoreError`, not "not materialized yet" to an Optional
    /// input or `allow_missing_partitions`.
    fn head(&self) -> Result<object_store::ObjectMeta> {
        let store = self.store.clone();
        let path = self.path.clone();
        let runtime = runtime()?;
        match runtime.block_on(async move { store.head(&path).await }) {
            Ok(meta) => Ok(meta),
            Err(object_store::Error::NotFound { .. }) => {
                let store = self.store.clone();
                let path = self.path.clone();
                let listed = runtime.block_on(async move {
                    let mut listing = store.list(Some(&path));
                    futures::StreamExt::next(&mut listing).await
                });
                match listed {
                    Some(Err(error)) if names_a_missing_bucket(&error) => {
                        Err(self.missing_bucket(&error))
                    }
                    _ => Err(FastIoError::NotFound(self.uri.clone())),
                }
            }
            Err(error) => Err(self.error(error)),
        }
    }

    /// The object held to the version a HEAD sees now, and that version's size: every later
    /// request through the returned object asks for that version (`If-Match` on its ETag, and
    /// its version id where there is one), and a reply from another version is refused, so a
    /// read made of many requests never mixes two writers' bytes.
    pub fn pin(&self) -> Result<(RemoteObject, u64)> {
        let meta = self.head()?;
        let pinned = RemoteObject {
            pin: Some(Arc::new(Pin {
                e_tag: meta.e_tag,
                version: meta.version,
                size: meta.size,
            })),
            ..self.clone()
        };
        Ok((pinned, meta.size))
    }

    /// Options of a GET of `range`, held to the pinned version.
    pub(crate) fn get_options(&self, range: std::ops::Range<u64>) -> GetOptions {
        let pin = self.pin.as_deref();
        GetOptions {
            range: Some(GetRange::Bounded(range)),
            if_match: pin.and_then(|pin| pin.e_tag.clone()),
            version: pin.and_then(|pin| pin.version.clone()),
            ..GetOptions::default()
        }
    }

    /// Refuses a reply that came from another version than the pinned one, for servers that
    /// ignore `If-Match`.
    pub(crate) fn check_version(&self, meta: &object_store::ObjectMeta) -> Result<()> {
        let Some(pin) = self.pin.as_deref() else {
            return Ok(());
        };
        let differs = |pinned: &Option<String>, replied: &Option<String>| matches!((pinned, replied), (Some(a), Some(b)) if a != b);
        if differs(&pin.e_tag, &meta.e_tag)
            || differs(&pin.version, &meta.version)
            || meta.size != pin.size
        {
            return Err(FastIoError::Changed(self.uri.clone()));
        }
        Ok(())
    }

    /// Whether the object exists; any failure other than absence is an error.
    pub fn exists(&self) -> Result<bool> {
        match self.size() {
            Ok(_) => Ok(true),
            Err(FastIoError::NotFound(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Whether the object exists, in one HEAD: a missing bucket answers false too, where
    /// [`RemoteObject::exists`] lists the key to tell it apart (a second request, and S3
    /// bills a LIST as ten GETs), for callers that already know the bucket is there.
    pub fn exists_in_bucket(&self) -> Result<bool> {
        let store = self.store.clone();
        let path = self.path.clone();
        match runtime()?.block_on(async move { store.head(&path).await }) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(self.error(error)),
        }
    }

    /// Downloads `range` of the object, several requests at once when it is large (pin the
    /// object first so that they all read one version).
    pub fn read_range(&self, range: std::ops::Range<u64>) -> Result<arrow_buffer::Buffer> {
        fetch::fetch_range(&runtime()?, self, range, fetch::DEFAULT_FETCH_CONCURRENCY)
    }

    /// Deletes the object; deleting an absent object is not an error.
    pub fn delete(&self) -> Result<()> {
        let store = self.store.clone();
        let path = self.path.clone();
        match runtime()?.block_on(async move { store.delete(&path).await }) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(self.error(error)),
        }
    }
}

impl Location {
    /// Whether a file (not a folder) or an object is there; any failure other than absence
    /// is an error.
    pub fn exists(&self) -> Result<bool> {
        match self {
            Location::Local(path) => Ok(path.is_file()),
            Location::Remote(object) => object.exists(),
        }
    }

    /// [`Location::exists`] without telling a missing bucket apart (see
    /// [`RemoteObject::exists_in_bucket`]).
    pub fn exists_in_bucket(&self) -> Result<bool> {
        match self {
            Location::Local(path) => Ok(path.is_file()),
            Location::Remote(object) => object.exists_in_bucket(),
        }
    }

    /// Size in bytes, or `NotFound`.
    pub fn size(&self) -> Result<u64> {
        match self {
            Location::Local(path) => {
                std::fs::metadata(path)
                    .map(|meta| meta.len())
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::NotFound => {
                            FastIoError::NotFound(path.display().to_string())
                        }
                        _ => FastIoError::io(format!("reading {}", path.display()), e),
                    })
            }
            Location::Remote(object) => object.size(),
        }
    }

    /// Deletes every one of `locations`; absent ones are not an error. Objects of one store
    /// go in one batched request where the store has one (S3's DeleteObjects takes up to 1,000
    /// keys), so removing a key's stale formats costs one round trip, not one per format.
    pub fn delete_all(locations: &[Location]) -> Result<()> {
        let mut remote: Vec<&RemoteObject> = Vec::new();
        for location in locations {
            match location {
                Location::Local(_) => location.delete()?,
                Location::Remote(object) => remote.push(object),
            }
        }
        let Some(first) = remote.first() else {
            return Ok(());
        };
        if remote.iter().any(|o| !Arc::ptr_eq(&o.store, &first.store)) {
            return remote.iter().try_for_each(|object| object.delete());
        }
        let store = first.store.clone();
        let paths: Vec<ObjectPath> = remote.iter().map(|object| object.path.clone()).collect();
        let results: Vec<_> = runtime()?.block_on(async move {
            use futures::StreamExt;
            let paths = futures::stream::iter(paths.into_iter().map(Ok)).boxed();
            store.delete_stream(paths).collect::<Vec<_>>().await
        });
        for result in results {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(first.error(error)),
            }
        }
        Ok(())
    }

    /// Deletes the file or object; deleting an absent one is not an error.
    pub fn delete(&self) -> Result<()> {
        match self {
            Location::Local(path) => match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(FastIoError::io(format!("deleting {}", path.display()), e)),
            },
            Location::Remote(object) => object.delete(),
        }
    }
}

/// Every object below the folder `uri` names (`s3://bucket/prefix`, or a bucket alone), with
/// its size and when it was last written (seconds since the epoch), in the store's order; S3
/// answers 1,000 keys a request.
pub fn list_below(uri: &str, options: &StoreOptions) -> Result<Vec<(String, u64, f64)>> {
    let trimmed = uri.trim_end_matches('/');
    let (scheme, rest) = trimmed.split_once("://").ok_or_else(|| {
        FastIoError::InvalidArgument(format!("{uri:?} is not an object-store URI"))
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let root = format!("{scheme}://{bucket}");
    // Parsed with a key below it, for the store and the redactor of its bucket.
    let Location::Remote(anchor) = Location::parse(&format!("{root}/_"), options)? else {
        return Err(FastIoError::InvalidArgument(format!(
            "{uri:?} is a local path, not an object-store URI"
        )));
    };
    let anchor = RemoteObject {
        uri: trimmed.to_string(),
        ..anchor
    };
    let prefix = match prefix.trim_matches('/') {
        "" => None,
        key => Some(ObjectPath::parse(key).map_err(|e| {
            FastIoError::InvalidArgument(format!("{uri:?} is not a valid object path: {e}"))
        })?),
    };
    let store = anchor.store.clone();
    let listed: Vec<_> = runtime()?.block_on(async move {
        use futures::StreamExt;
        store.list(prefix.as_ref()).collect::<Vec<_>>().await
    });
    listed
        .into_iter()
        .map(|entry| match entry {
            Ok(meta) => Ok((
                format!("{root}/{}", meta.location),
                meta.size,
                meta.last_modified.timestamp_millis() as f64 / 1000.0,
            )),
            Err(error) => Err(anchor.error(error)),
        })
        .collect()
}

/// Whether an error is about the bucket or container rather than the object: S3 says
/// NoSuchBucket, Azure ContainerNotFound, GCS that the bucket does not exist.
fn names_a_missing_bucket(error: &object_store::Error) -> bool {
    let text = describe(error);
    ["NoSuchBucket", "ContainerNotFound", "bucket does not exist"]
        .iter()
        .any(|marker| text.contains(marker))
}

/// The error and its chain of causes in one line: object_store's own message often stops at
/// "error sending request" and leaves the reason (refused, reset, 403 body) to its sources.
fn describe(error: &object_store::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// The process's one in-memory store, so `memory://` objects outlive the call that wrote them.
fn memory_store() -> Arc<dyn ObjectStore> {
    static MEMORY: OnceLock<Arc<dyn ObjectStore>> = OnceLock::new();
    MEMORY.get_or_init(|| Arc::new(InMemory::new())).clone()
}

type StoreCache = HashMap<String, Arc<dyn ObjectStore>>;

/// Stores by scheme, bucket and options, for the process that built them: a forked child gets
/// its own, since the parent's connection pools belong to the parent's runtime.
fn cached_store(scheme: &str, url: &Url, options: &StoreOptions) -> Result<Arc<dyn ObjectStore>> {
    static STORES: Mutex<Option<(u32, StoreCache)>> = Mutex::new(None);
    let key = format!(
        "{scheme}://{}\n{}",
        &url[url::Position::BeforeUsername..url::Position::BeforePath],
        options.cache_key()
    );
    let pid = std::process::id();
    let mut slot = STORES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if slot.as_ref().is_some_and(|(owner, _)| *owner != pid) {
        // The inherited clients hold connections and timers of the parent's runtime; dropping
        // them here could wait on threads that do not exist in this process.
        std::mem::forget(slot.take());
    }
    let (_, stores) = slot.get_or_insert_with(|| (pid, HashMap::new()));
    if let Some(store) = stores.get(&key) {
        return Ok(store.clone());
    }
    let store = config::build_store(scheme, url, options)?;
    stores.insert(key, store.clone());
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(uri: &str) -> Result<Location> {
        Location::parse(uri, &StoreOptions::default())
    }

    fn refused(uri: &str, says: &str) {
        match parse(uri) {
            Err(FastIoError::InvalidArgument(message)) => {
                assert!(message.contains(says), "{uri}: {message}")
            }
            Err(other) => panic!("{uri}: {other}"),
            Ok(_) => panic!("{uri} was accepted"),
        }
    }

    #[test]
    fn paths_and_file_uris_are_local() {
        for (uri, path) in [
            ("data/t.arrow", "data/t.arrow"),
            ("/tmp/t.arrow", "/tmp/t.arrow"),
            ("file:///tmp/t.arrow", "/tmp/t.arrow"),
            ("file://localhost/tmp/t.arrow", "/tmp/t.arrow"),
        ] {
            match parse(uri).unwrap() {
                Location::Local(parsed) => assert_eq!(parsed, PathBuf::from(path)),
                Location::Remote(_) => panic!("{uri} is local"),
            }
        }
    }

    #[test]
    fn store_uris_keep_their_key_as_written() {
        match parse("memory://bucket/a/k%2Fv/t.arrow").unwrap() {
            Location::Remote(object) => {
                assert_eq!(object.path.as_ref(), "a/k%2Fv/t.arrow");
                assert_eq!(object.uri, "memory://bucket/a/k%2Fv/t.arrow");
            }
            Location::Local(_) => panic!("memory:// is a store"),
        }
    }

    #[test]
    fn uris_that_name_no_object_are_refused() {
        refused("", "empty");
        refused("s3://", "no bucket");
        refused("gs:///key", "no bucket");
        refused("s3:/bucket/key", "one slash missing");
        refused("s3://bucket", "not an object");
        refused("s3://bucket/", "not an object");
        refused("file://elsewhere/tmp/t.arrow", "another host");
        refused("ftp://host/t.arrow", "unsupported URI scheme");
    }
}
