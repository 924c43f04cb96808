//! The options of a table write, defined once: the fields callers set (the Python bindings
//! deserialize them from one dict), checked here into what each format's encoder and the sink
//! take. A new write option is a field of [`WriteOptions`] and the line of [`WriteOptions::plan`]
//! that hands it on.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::batch::compat::Compatibility;
use crate::error::{FastIoError, Result};
use crate::format::FileFormat;
use crate::ipc::EncodeOptions;
use crate::parquet::ParquetOptions;
use crate::store::UploadOptions;

/// Every option of a table write, as a caller gives it. Missing fields take the defaults
/// below; an unknown one is refused by its name.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriteOptions {
    /// `"ipc"` (the Arrow IPC file format, Feather v2; also `"arrow"`, `"feather"`) or
    /// `"parquet"`.
    pub format: String,
    /// IPC: `"zstd"`, `"lz4"` or `"none"`; Parquet: those or `"snappy"`.
    pub compression: String,
    /// zstd level (IPC: -7 to 22, Parquet: 1 to 22); None is level 1.
    pub level: Option<i64>,
    /// Rows per written batch (IPC) or at most per row group (Parquet); None sizes them by
    /// bytes (see `chunk_bytes`).
    pub chunk_rows: Option<i64>,
    /// Bytes of Arrow data per written batch (IPC, default 8 MiB) or per row group (Parquet,
    /// default 64 MiB), when `chunk_rows` does not cut them first.
    pub chunk_bytes: Option<i64>,
    /// Extra key-value pairs for the file's footer (provenance, for instance).
    pub metadata: Option<BTreeMap<String, String>>,
    /// Compute the content hash (see `batch::content_hash`) and store it in the footer.
    #[serde(deserialize_with = "strict_bool")]
    pub content_hash: bool,
    /// Gather null counts and bounds per column into the footer (IPC; a Parquet file keeps
    /// statistics per page and row group whatever this says).
    #[serde(deserialize_with = "strict_bool")]
    pub statistics: bool,
    /// Types rewritten for other readers: `"standard"`, `"wide"` or `"none"` (see
    /// `batch::compat`).
    pub compat: String,
    /// Make a local file durable before it replaces the previous version: the file, then its
    /// folder entry, are synced to disk (the rename alone survives a crash of the process but
    /// not of the machine). A store upload is durable once complete and ignores it.
    #[serde(deserialize_with = "strict_bool")]
    pub fsync: bool,
    /// Bytes in each of an upload's first parts (default 16 MiB; later parts grow).
    pub part_size: Option<i64>,
    /// Parts of an upload in flight at once (default 8).
    pub max_concurrency: Option<i64>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            format: FileFormat::Ipc.name().into(),
            compression: "zstd".into(),
            level: None,
            chunk_rows: None,
            chunk_bytes: None,
            metadata: None,
            content_hash: false,
            statistics: false,
            compat: "standard".into(),
            fsync: false,
            part_size: None,
            max_concurrency: None,
        }
    }
}

/// A bool that is a bool: `"no"` or `1` for `fsync` is refused, not taken by its truth.
fn strict_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    struct Strict;
    impl serde::de::Visitor<'_> for Strict {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a bool")
        }
        fn visit_bool<E>(self, value: bool) -> Result<bool, E> {
            Ok(value)
        }
    }
    deserializer.deserialize_any(Strict)
}

/// A checked write: how its format encodes, how an upload splits, whether a file is synced.
#[derive(Debug, Clone)]
pub struct WritePlan {
    pub format: FormatOptions,
    pub upload: UploadOptions,
    pub fsync: bool,
}

/// How a write encodes, by format.
#[derive(Debug, Clone)]
pub enum FormatOptions {
    Ipc(EncodeOptions),
    Parquet(ParquetOptions),
}

impl FormatOptions {
    /// These options with `entries` added to the file's key-value metadata.
    pub fn with_footer_entries(mut self, entries: Vec<(String, String)>) -> Self {
        let footer = match &mut self {
            FormatOptions::Ipc(options) => &mut options.footer_metadata,
            FormatOptions::Parquet(options) => &mut options.footer_metadata,
        };
        footer.extend(entries);
        self
    }
}

/// The message that refuses `value` for the integer option `name`, the same whether the value
/// is out of the option's range or out of any 64-bit integer's; None for other options.
pub fn refusal(name: &str, value: &str) -> Option<FastIoError> {
    let message = match name {
        "level" => format!("zstd level {value} is out of range: expected -7 to 22"),
        "chunk_rows" => format!("chunk_rows must be a positive number of rows, not {value}"),
        "chunk_bytes" => format!("chunk_bytes must be a positive number of bytes, not {value}"),
        "part_size" => format!("part_size must be a positive number of bytes, not {value}"),
        "max_concurrency" => format!("max_concurrency must be a positive number, not {value}"),
        _ => return None,
    };
    Some(FastIoError::InvalidArgument(message))
}

/// `value` of the integer option `name` as `T` when `accept` takes it.
fn checked<T>(
    name: &str,
    value: Option<i64>,
    accept: impl Fn(i64) -> Option<T>,
) -> Result<Option<T>> {
    value
        .map(|value| {
            accept(value)
                .ok_or_else(|| refusal(name, &value.to_string()).expect("an integer option"))
        })
        .transpose()
}

fn positive(value: i64) -> Option<usize> {
    usize::try_from(value).ok().filter(|value| *value > 0)
}

impl WriteOptions {
    /// Checks every option and hands each to the part of the write it configures.
    pub fn plan(&self) -> Result<WritePlan> {
        let format = self.format.parse::<FileFormat>()?;
        let level = self.zstd_level()?;
        let chunk_rows = checked("chunk_rows", self.chunk_rows, positive)?;
        let chunk_bytes = checked("chunk_bytes", self.chunk_bytes, positive)?;
        let footer_metadata: Vec<(String, String)> = self
            .metadata
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let compat = self.compat.parse::<Compatibility>()?;
        let format = match format {
            FileFormat::Ipc => {
                let defaults = EncodeOptions::default();
                let options = EncodeOptions {
                    compression: self.compression.parse()?,
                    level,
                    chunk_rows,
                    chunk_bytes: chunk_bytes.unwrap_or(defaults.chunk_bytes),
                    content_hash: self.content_hash,
                    statistics: self.statistics,
                    footer_metadata,
                    compat,
                    ..defaults
                };
                options.validate()?;
                FormatOptions::Ipc(options)
            }
            FileFormat::Parquet => {
                let defaults = ParquetOptions::default();
                FormatOptions::Parquet(ParquetOptions {
                    codec: self.compression.parse()?,
                    level,
                    row_group_rows: chunk_rows.unwrap_or(defaults.row_group_rows),
                    row_group_bytes: chunk_bytes.unwrap_or(defaults.row_group_bytes),
                    content_hash: self.content_hash,
                    footer_metadata,
                    compat,
                    ..defaults
                })
            }
        };
        Ok(WritePlan {
            format,
            upload: self.upload()?,
            fsync: self.fsync,
        })
    }

    /// `level` as a zstd level; its range is checked by the format that uses it.
    pub fn zstd_level(&self) -> Result<Option<i32>> {
        checked("level", self.level, |level| i32::try_from(level).ok())
    }

    /// How an upload splits and overlaps its parts, checked against S3's limits.
    pub fn upload(&self) -> Result<UploadOptions> {
        let part_size = checked("part_size", self.part_size, |size| u64::try_from(size).ok())?;
        let max_concurrency = checked("max_concurrency", self.max_concurrency, |n| {
            usize::try_from(n).ok()
        })?;
        UploadOptions::new(part_size, max_concurrency)
    }

    /// The options of an IPC file encoded in memory: the upload options are checked but have
    /// nothing to configure, and Parquet is refused.
    pub fn in_memory(&self) -> Result<EncodeOptions> {
        match self.plan()?.format {
            FormatOptions::Ipc(options) => Ok(options),
            FormatOptions::Parquet(_) => Err(FastIoError::InvalidArgument(
                "encode writes the Arrow IPC format only: format must be \"ipc\"".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_plan_an_ipc_write_of_zstd_level_1() {
        let plan = WriteOptions::default().plan().unwrap();
        let FormatOptions::Ipc(options) = plan.format else {
            panic!("not IPC")
        };
        assert_eq!(options.zstd_level(), Some(1));
        assert_eq!(options.chunk_bytes, EncodeOptions::default().chunk_bytes);
        assert_eq!(plan.upload, UploadOptions::default());
        assert!(!plan.fsync);
    }

    #[test]
    fn chunk_bytes_sizes_batches_and_row_groups() {
        let options = WriteOptions {
            chunk_bytes: Some(1 << 20),
            ..WriteOptions::default()
        };
        let FormatOptions::Ipc(ipc) = options.plan().unwrap().format else {
            panic!("not IPC")
        };
        assert_eq!(ipc.chunk_bytes, 1 << 20);
        let parquet = WriteOptions {
            format: "parquet".into(),
            ..options.clone()
        };
        let FormatOptions::Parquet(parquet) = parquet.plan().unwrap().format else {
            panic!("not Parquet")
        };
        assert_eq!(parquet.row_group_bytes, 1 << 20);
        for refused in [0, -1] {
            let error = WriteOptions {
                chunk_bytes: Some(refused),
                ..WriteOptions::default()
            }
            .plan()
            .unwrap_err()
            .to_string();
            assert!(error.contains("chunk_bytes must be a positive"), "{error}");
        }
    }

    #[test]
    fn numbers_out_of_range_are_refused_by_their_option() {
        for (options, says) in [
            (
                WriteOptions {
                    level: Some(1 << 40),
                    ..Default::default()
                },
                "zstd level",
            ),
            (
                WriteOptions {
                    chunk_rows: Some(-1),
                    ..Default::default()
                },
                "chunk_rows",
            ),
            (
                WriteOptions {
                    part_size: Some(-1),
                    ..Default::default()
                },
                "part_size",
            ),
            (
                WriteOptions {
                    max_concurrency: Some(-3),
                    ..Default::default()
                },
                "max_concurrency",
            ),
        ] {
            let error = options.plan().unwrap_err().to_string();
            assert!(error.starts_with(says), "{error}");
        }
        assert!(refusal("fsync", "2").is_none());
    }
}
