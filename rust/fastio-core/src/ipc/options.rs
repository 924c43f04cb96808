use std::str::FromStr;

use arrow_ipc::writer::IpcWriteOptions;
use arrow_ipc::CompressionType;

use crate::batch::compat::Compatibility;
use crate::error::{FastIoError, Result};

/// Default target size of one record batch when the caller gives no row count.
///
/// Large enough that each column buffer compresses well, small enough that a 500 MB table
/// splits into dozens of batches for the worker threads.
pub const DEFAULT_CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// zstd level 1, as pyarrow uses: level 3 (arrow-rs's default) costs about twice the time
/// for a few percent of size on columnar data.
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// Body compression of the IPC file, one of the three the Arrow format defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    None,
    Lz4Frame,
    #[default]
    Zstd,
}

impl Compression {
    /// Every codec, by the one name each has in the core, the Python API, FastIOManager's
    /// config and the CLI.
    pub const ALL: [Compression; 3] = [Compression::Zstd, Compression::Lz4Frame, Compression::None];
    pub const CHOICES: &'static str = "'zstd', 'lz4' or 'none'";

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Lz4Frame => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    pub(crate) fn ipc_type(self) -> Option<CompressionType> {
        match self {
            Compression::None => None,
            Compression::Lz4Frame => Some(CompressionType::LZ4_FRAME),
            Compression::Zstd => Some(CompressionType::ZSTD),
        }
    }
}

impl FromStr for Compression {
    type Err = FastIoError;

    fn from_str(s: &str) -> Result<Self> {
        let name = s.to_ascii_lowercase();
        Compression::ALL
            .into_iter()
            .find(|compression| compression.name() == name)
            .ok_or_else(|| {
                FastIoError::InvalidArgument(format!(
                    "unknown compression {s:?}: expected {}",
                    Compression::CHOICES
                ))
            })
    }
}

/// How a stream of record batches becomes an IPC file.
#[derive(Debug, Clone)]
pub struct EncodeOptions {
    pub compression: Compression,
    /// zstd level (1..=22, negative for the fast levels); `None` means level 1.
    pub level: Option<i32>,
    /// Rows per written batch; `None` derives it from `chunk_bytes` and the first batch.
    pub chunk_rows: Option<usize>,
    pub chunk_bytes: usize,
    /// Encode batches on the rayon pool; off only for comparisons and debugging.
    pub parallel: bool,
    /// Compute the content hash (see `content_hash`) and store it in the footer. Off by
    /// default, as the statistics: each reads every value once more (benches/bench_footer.py).
    pub content_hash: bool,
    /// Gather null counts and bounds per column (see `column_stats`) into the footer.
    pub statistics: bool,
    /// Extra key-value pairs for the file footer (provenance, for instance).
    pub footer_metadata: Vec<(String, String)>,
    /// Types rewritten for other readers (see `compat`).
    pub compat: Compatibility,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            compression: Compression::Zstd,
            level: None,
            chunk_rows: None,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            parallel: true,
            content_hash: false,
            statistics: false,
            footer_metadata: Vec::new(),
            compat: Compatibility::default(),
        }
    }
}

impl EncodeOptions {
    pub fn new(compression: Compression) -> Self {
        EncodeOptions {
            compression,
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.chunk_rows == Some(0) {
            return Err(FastIoError::InvalidArgument(
                "chunk_rows must be a positive number of rows".into(),
            ));
        }
        if let Some(level) = self.level {
            match self.compression {
                Compression::Zstd if !(-7..=22).contains(&level) => {
                    return Err(FastIoError::InvalidArgument(format!(
                        "zstd level {level} is out of range: expected -7 to 22"
                    )))
                }
                Compression::Lz4Frame | Compression::None => {
                    return Err(FastIoError::InvalidArgument(format!(
                        "a compression level applies to 'zstd' only, not {:?}",
                        self.compression.name()
                    )))
                }
                Compression::Zstd => {}
            }
        }
        Ok(())
    }

    /// The zstd level actually used, `None` for the other codecs.
    pub fn zstd_level(&self) -> Option<i32> {
        match self.compression {
            Compression::Zstd => Some(self.level.unwrap_or(DEFAULT_ZSTD_LEVEL)),
            _ => None,
        }
    }

    pub(crate) fn ipc_write_options(&self) -> Result<IpcWriteOptions> {
        self.validate()?;
        let options =
            IpcWriteOptions::default().try_with_compression(self.compression.ipc_type())?;
        Ok(match self.zstd_level() {
            Some(level) => options.try_with_compression_level(Some(level))?,
            None => options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_case_insensitively() {
        assert_eq!("ZSTD".parse::<Compression>().unwrap(), Compression::Zstd);
        assert_eq!("Lz4".parse::<Compression>().unwrap(), Compression::Lz4Frame);
        assert_eq!("none".parse::<Compression>().unwrap(), Compression::None);
        let err = "gzip".parse::<Compression>().unwrap_err().to_string();
        assert!(err.contains("'zstd', 'lz4' or 'none'"), "{err}");
    }

    #[test]
    fn rejects_levels_that_do_not_apply() {
        let mut options = EncodeOptions::new(Compression::Lz4Frame);
        options.level = Some(3);
        assert!(options.validate().is_err());
        options.compression = Compression::Zstd;
        assert!(options.validate().is_ok());
        options.level = Some(40);
        assert!(options.validate().is_err());
    }
}
