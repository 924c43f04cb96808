//! How a stream of record batches becomes a Parquet file: codec, level, row group sizes.

use std::str::FromStr;

use arrow_schema::TimeUnit;
use parquet::basic::{BrotliLevel, Compression as ParquetCompression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::batch::compat::Compatibility;
use crate::batch::keys::writer_name;
use crate::error::{FastIoError, Result};
use crate::parquet::int96::parse_time_unit;

/// Arrow bytes per row group. DuckDB, pyarrow and this module's reader read row groups in
/// parallel and skip them by their statistics, so a 500 MB table makes about eight.
pub const DEFAULT_ROW_GROUP_BYTES: usize = 64 << 20;
/// Rows per row group at most, as pyarrow's default.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 1 << 20;

/// The page codec of a Parquet file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParquetCodec {
    Snappy,
    Zstd,
    /// LZ4_RAW, the LZ4 codec every current reader knows (the older "LZ4" is deprecated).
    Lz4Raw,
    /// For readers that know no newer codec: Hive and Impala before 2017, some warehouses'
    /// external tables.
    Gzip,
    Brotli,
    None,
}

impl ParquetCodec {
    pub const CHOICES: &'static str =
        "\"zstd\", \"snappy\", \"lz4\", \"gzip\", \"brotli\" or \"none\"";

    pub fn name(self) -> &'static str {
        match self {
            ParquetCodec::Snappy => "snappy",
            ParquetCodec::Zstd => "zstd",
            ParquetCodec::Lz4Raw => "lz4",
            ParquetCodec::Gzip => "gzip",
            ParquetCodec::Brotli => "brotli",
            ParquetCodec::None => "none",
        }
    }

    /// The page compression at `level` (the codec's default when None), or why the level is
    /// refused: a level is gzip's 0 to 9, brotli's 0 to 11 or zstd's 1 to 22.
    fn compression(self, level: Option<i32>) -> Result<ParquetCompression> {
        let out_of_range = |range: &str| {
            FastIoError::InvalidArgument(format!(
                "{} level {} is out of range for Parquet: expected {range}",
                self.name(),
                level.unwrap_or_default()
            ))
        };
        let unsigned = |level: i32| u32::try_from(level).map_err(|_| ());
        Ok(match (self, level) {
            (ParquetCodec::Zstd, level) => ParquetCompression::ZSTD(
                ZstdLevel::try_new(level.unwrap_or(1)).map_err(|_| out_of_range("1 to 22"))?,
            ),
            // 6 is zlib's default, and so Hadoop's GzipCodec's, which Spark and Hive use.
            (ParquetCodec::Gzip, level) => ParquetCompression::GZIP(
                unsigned(level.unwrap_or(6))
                    .and_then(|level| GzipLevel::try_new(level).map_err(|_| ()))
                    .map_err(|_| out_of_range("0 to 9"))?,
            ),
            // The crate's default, 1: brotli's higher levels take many times longer to write
            // for a few percent less.
            (ParquetCodec::Brotli, level) => ParquetCompression::BROTLI(
                unsigned(level.unwrap_or(1))
                    .and_then(|level| BrotliLevel::try_new(level).map_err(|_| ()))
                    .map_err(|_| out_of_range("0 to 11"))?,
            ),
            (codec, Some(_)) => {
                return Err(FastIoError::InvalidArgument(format!(
                    "a level applies to zstd, gzip and brotli only, not to {}",
                    codec.name()
                )))
            }
            (ParquetCodec::Snappy, None) => ParquetCompression::SNAPPY,
            (ParquetCodec::Lz4Raw, None) => ParquetCompression::LZ4_RAW,
            (ParquetCodec::None, None) => ParquetCompression::UNCOMPRESSED,
        })
    }
}

impl FromStr for ParquetCodec {
    type Err = FastIoError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "snappy" => Ok(ParquetCodec::Snappy),
            "zstd" => Ok(ParquetCodec::Zstd),
            "lz4" | "lz4_raw" => Ok(ParquetCodec::Lz4Raw),
            "gzip" => Ok(ParquetCodec::Gzip),
            "brotli" => Ok(ParquetCodec::Brotli),
            "none" | "uncompressed" => Ok(ParquetCodec::None),
            _ => Err(FastIoError::InvalidArgument(format!(
                "unknown Parquet compression {s:?}: expected {}",
                ParquetCodec::CHOICES
            ))),
        }
    }
}

/// How a stream of record batches becomes a Parquet file.
#[derive(Debug, Clone)]
pub struct ParquetOptions {
    pub codec: ParquetCodec,
    /// The codec's level (zstd 1..=22, gzip 0..=9, brotli 0..=11); `None` means zstd's level
    /// 1 (as pyarrow's and polars' default), gzip's 6, brotli's 1.
    pub level: Option<i32>,
    pub row_group_bytes: usize,
    pub row_group_rows: usize,
    /// Dictionary-encode pages (each column falls back to plain encoding when its dictionary
    /// grows past the page limit), as pyarrow and polars do by default.
    pub dictionary: bool,
    /// Encode on the rayon pool; off only for comparisons.
    pub parallel: bool,
    pub content_hash: bool,
    /// Extra key-value pairs for the file's metadata (provenance, for instance).
    pub footer_metadata: Vec<(String, String)>,
    /// Types rewritten for other readers (see `compat`).
    pub compat: Compatibility,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            codec: ParquetCodec::Zstd,
            level: None,
            row_group_bytes: DEFAULT_ROW_GROUP_BYTES,
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            dictionary: true,
            parallel: true,
            content_hash: false,
            footer_metadata: Vec::new(),
            compat: Compatibility::default(),
        }
    }
}

impl ParquetOptions {
    pub(crate) fn properties(&self) -> Result<WriterProperties> {
        let compression = self.codec.compression(self.level)?;
        if self.row_group_bytes == 0 || self.row_group_rows == 0 {
            return Err(FastIoError::InvalidArgument(
                "row groups must hold at least one row and one byte".into(),
            ));
        }
        Ok(WriterProperties::builder()
            .set_compression(compression)
            .set_dictionary_enabled(self.dictionary)
            // Row groups are cut here, by bytes; the crate's own row limit must not cut them
            // again.
            .set_max_row_group_row_count(None)
            .set_created_by(writer_name())
            .build())
    }
}

/// How a Parquet file is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParquetReadOptions {
    /// The unit INT96 timestamps are read at (pyarrow's `coerce_int96_timestamp_unit`); None
    /// reads them at the unit the file's embedded Arrow schema gives, else at nanoseconds.
    /// Either way a value the unit cannot hold is refused (see `int96`).
    pub int96_unit: Option<TimeUnit>,
}

impl ParquetReadOptions {
    /// The options with INT96 timestamps read at `int96_unit` (`"s"`, `"ms"`, `"us"` or
    /// `"ns"`) when given.
    pub fn new(int96_unit: Option<&str>) -> Result<Self> {
        Ok(ParquetReadOptions {
            int96_unit: int96_unit.map(parse_time_unit).transpose()?,
        })
    }
}
