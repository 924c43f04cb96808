use arrow_schema::ArrowError;

/// Every failure of the core, by kind, so the bindings can map each to its own exception.
#[derive(Debug, thiserror::Error)]
pub enum FastIoError {
    /// The input is not a readable Arrow IPC file or stream (truncated, flipped bytes, other format).
    #[error("corrupt or unsupported Arrow IPC data: {0}")]
    Corrupt(String),
    /// The input is not a readable Parquet file (truncated, damaged, encrypted, other format).
    #[error("corrupt or unsupported Parquet data: {0}")]
    CorruptParquet(String),
    /// A well-formed Parquet file using what this reader does not decode (the LZO codec, an
    /// encoding arrow-rs does not implement): not damage, so not `CorruptParquet`.
    #[error("unsupported Parquet data: {0}")]
    UnsupportedParquet(String),
    /// The file to read does not exist.
    #[error("no such file: {0}")]
    NotFound(String),
    /// A caller passed an argument the core cannot act on.
    #[error("{0}")]
    InvalidArgument(String),
    /// The operating system refused a read or write.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// An object store refused or failed a request (after its retries); the message names the
    /// object and the cause, with any credential redacted.
    #[error("object store error at {uri}: {message}")]
    Store { uri: String, message: String },
    /// The object was replaced by another version while it was being read; nothing of either
    /// version is returned.
    #[error(
        "object store error at {0}: the object changed while it was being read (another \
         writer replaced it); read it again"
    )]
    Changed(String),
    /// Arrow rejected the data while encoding (for example an error raised by the source stream).
    #[error("{0}")]
    Arrow(#[from] ArrowError),
    /// The caller's interrupt check (a pending Ctrl-C, in Python) stopped a write; nothing was
    /// published.
    #[error("interrupted before the output was complete; nothing was written")]
    Interrupted,
    /// A panic inside the core, caught so the host process survives.
    #[error("internal error in dagster-fastio (please report it): {0}")]
    Internal(String),
}

pub type Result<T, E = FastIoError> = std::result::Result<T, E>;

impl FastIoError {
    /// An I/O error with what was being done; a store failure that travelled through
    /// `std::io::Write` (the encoder writes to any sink) comes back out as itself.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        if source
            .get_ref()
            .is_some_and(|inner| inner.is::<SinkFailure>())
        {
            let inner = source.into_inner().expect("checked above");
            return inner
                .downcast::<SinkFailure>()
                .map(|failure| failure.0)
                .expect("checked above");
        }
        FastIoError::Io {
            context: context.into(),
            source,
        }
    }

    /// Turns the payload of a caught panic (or of a thread that panicked) into an error,
    /// keeping its message.
    pub fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        FastIoError::Internal(panic_message(&payload))
    }
}

/// Runs `work`; a panic inside it becomes the error `on_panic` makes of the panic's message.
///
/// The one place a panic is caught: arrow's and parquet's decoders panic on some damaged
/// input, and a panic on a pool thread or across the Python boundary would abort the process.
pub fn guarded<T>(
    on_panic: impl FnOnce(String) -> FastIoError,
    work: impl FnOnce() -> Result<T>,
) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
        .unwrap_or_else(|payload| Err(on_panic(panic_message(&payload))))
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Carries a core error through an `std::io::Error`, for sinks behind `std::io::Write`.
#[derive(Debug)]
pub(crate) struct SinkFailure(pub FastIoError);

impl std::fmt::Display for SinkFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SinkFailure {}

impl SinkFailure {
    pub(crate) fn into_io(error: FastIoError) -> std::io::Error {
        std::io::Error::other(SinkFailure(error))
    }
}
