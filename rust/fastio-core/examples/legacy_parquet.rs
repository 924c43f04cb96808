//! Writes Parquet files in the layouts older writers produced, for the tests to read with this
//! package and with pyarrow (tests/test_parquet_writers.py):
//!
//! - `repeated_fields.parquet`: repeated fields with no LIST annotation (parquet-mr's protobuf
//!   and thrift writers, Hive before lists were annotated);
//! - `two_level_lists.parquet`: LIST groups whose repeated field is the element itself;
//! - `three_level_lists.parquet`: LIST groups with the legacy names (`bag`/`array_element`,
//!   a repeated group named `array`, `<name>_tuple`) and a `MAP_KEY_VALUE` map;
//! - `dictionary_offset_zero.parquet`: column chunks whose dictionary page offset is recorded as
//!   0, as some writers record it;
//! - `lz4_hadoop.parquet`: pages in the deprecated LZ4 codec (Hadoop's framing);
//! - `lzo_codec.parquet`: a footer naming LZO, a codec arrow-rs does not implement;
//! - `values_as_rows.parquet`: row groups whose row count is their repeated column's number
//!   of values.
//!
//! Each file holds six rows with `id` 0 to 5, in two row groups of three.
//!
//! Usage: `cargo run -q -p fastio-core --example legacy_parquet -- <folder>`

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnChunkMetaDataBuilder, ParquetMetaDataReader, ParquetMetaDataWriter,
    RowGroupMetaData, RowGroupMetaDataBuilder,
};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::parser::parse_message_type;

type Rows<T> = Vec<Option<Vec<Option<T>>>>;

/// The definition and repetition levels of a leaf one repetition deep, and its values.
///
/// `top` is the definition level of a present value; a missing element is `top - 1`, an empty
/// list `empty`, a null list `empty - 1`.
fn levels<T: Clone>(rows: &Rows<T>, top: i16, empty: i16) -> (Vec<T>, Vec<i16>, Vec<i16>) {
    let (mut values, mut definitions, mut repetitions) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        match row {
            None => {
                definitions.push(empty - 1);
                repetitions.push(0);
            }
            Some(items) if items.is_empty() => {
                definitions.push(empty);
                repetitions.push(0);
            }
            Some(items) => {
                for (index, item) in items.iter().enumerate() {
                    repetitions.push(i16::from(index > 0));
                    match item {
                        Some(value) => {
                            values.push(value.clone());
                            definitions.push(top);
                        }
                        None => definitions.push(top - 1),
                    }
                }
            }
        }
    }
    (values, definitions, repetitions)
}

/// Writes the next column of `group`: `values` at the given levels (none for a required leaf
/// at the root).
fn column<T: parquet::data_type::DataType>(
    group: &mut SerializedRowGroupWriter<'_, File>,
    values: &[T::T],
    definitions: Option<&[i16]>,
    repetitions: Option<&[i16]>,
) {
    let mut writer = group
        .next_column()
        .unwrap()
        .expect("a column left to write");
    writer
        .typed::<T>()
        .write_batch(values, definitions, repetitions)
        .unwrap();
    writer.close().unwrap();
}

fn repeated<T: parquet::data_type::DataType>(
    group: &mut SerializedRowGroupWriter<'_, File>,
    rows: &Rows<T::T>,
    top: i16,
    empty: i16,
) where
    T::T: Clone,
{
    let (values, definitions, repetitions) = levels(rows, top, empty);
    column::<T>(group, &values, Some(&definitions), Some(&repetitions));
}

fn text(value: &str) -> ByteArray {
    ByteArray::from(value)
}

/// A file of `schema` with two row groups, rows 0..3 and 3..6, each written by `write_group`.
fn write_file(
    path: &Path,
    schema: &str,
    properties: WriterProperties,
    write_group: impl Fn(&mut SerializedRowGroupWriter<'_, File>, std::ops::Range<i32>),
) {
    let schema = Arc::new(parse_message_type(schema).unwrap());
    let file = File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, schema, Arc::new(properties)).unwrap();
    for rows in [0..3, 3..6] {
        let mut group = writer.next_row_group().unwrap();
        write_group(&mut group, rows);
        group.close().unwrap();
    }
    writer.close().unwrap();
}

fn ids(group: &mut SerializedRowGroupWriter<'_, File>, rows: std::ops::Range<i32>) -> Vec<i32> {
    let ids: Vec<i32> = rows.collect();
    column::<Int32Type>(group, &ids, None, None);
    ids
}

fn repeated_fields(folder: &Path) {
    let schema = "
        message spark_schema {
          required int32 id;
          repeated int32 tags;
          repeated group pairs {
            required binary key (UTF8);
            optional int64 value;
          }
          optional group info {
            repeated int32 codes;
          }
          repeated group matrix {
            repeated int32 cells;
          }
        }";
    write_file(
        &folder.join("repeated_fields.parquet"),
        schema,
        WriterProperties::default(),
        |group, rows| {
            let ids = ids(group, rows);
            // Row i holds i % 3 tags (an empty repeated field is no value at all).
            let tags: Rows<i32> = ids
                .iter()
                .map(|&i| Some((0..i % 3).map(|t| Some(i * 10 + t)).collect()))
                .collect();
            repeated::<Int32Type>(group, &tags, 1, 0);
            let pairs: Vec<Vec<(String, Option<i64>)>> = ids
                .iter()
                .map(|&i| {
                    (0..(i + 1) % 3)
                        .map(|p| (format!("k{i}{p}"), (p != 1).then_some(i64::from(i * p))))
                        .collect()
                })
                .collect();
            let keys: Rows<ByteArray> = pairs
                .iter()
                .map(|pairs| Some(pairs.iter().map(|(k, _)| Some(text(k))).collect()))
                .collect();
            let values: Rows<i64> = pairs
                .iter()
                .map(|pairs| Some(pairs.iter().map(|(_, v)| *v).collect()))
                .collect();
            repeated::<ByteArrayType>(group, &keys, 1, 0);
            repeated::<Int64Type>(group, &values, 2, 0);
            // `info` is null in row 5; its `codes` repeat as `tags` do, offset by one.
            let codes: Rows<i32> = ids
                .iter()
                .map(|&i| (i != 5).then(|| (0..(i + 1) % 3).map(|c| Some(c - i)).collect()))
                .collect();
            repeated::<Int32Type>(group, &codes, 2, 1);
            // Row i holds i % 2 + 1 matrix rows of i % 3 cells, written level by level.
            let (mut cells, mut definitions, mut repetitions) =
                (Vec::new(), Vec::new(), Vec::new());
            for &i in &ids {
                for row in 0..i % 2 + 1 {
                    let first = if row == 0 { 0 } else { 1 };
                    if i % 3 == 0 {
                        definitions.push(1);
                        repetitions.push(first);
                    }
                    for cell in 0..i % 3 {
                        cells.push(i * 100 + row * 10 + cell);
                        definitions.push(2);
                        repetitions.push(if cell == 0 { first } else { 2 });
                    }
                }
            }
            column::<Int32Type>(group, &cells, Some(&definitions), Some(&repetitions));
        },
    );
}

/// Lists for row `i`: null for i == 4, empty for i == 1, else i % 3 + 1 items.
fn list_of<T>(i: i32, item: impl Fn(i32) -> T) -> Option<Vec<T>> {
    match i {
        4 => None,
        1 => Some(Vec::new()),
        _ => Some((0..i % 3 + 1).map(item).collect()),
    }
}

fn two_level_lists(folder: &Path) {
    let schema = "
        message hive_schema {
          required int32 id;
          optional group scores (LIST) {
            repeated int32 element;
          }
          optional group names (LIST) {
            repeated binary array (UTF8);
          }
        }";
    write_file(
        &folder.join("two_level_lists.parquet"),
        schema,
        WriterProperties::default(),
        |group, rows| {
            let ids = ids(group, rows);
            let scores: Rows<i32> = ids
                .iter()
                .map(|&i| list_of(i, |n| Some(i * 100 + n)))
                .collect();
            repeated::<Int32Type>(group, &scores, 2, 1);
            let names: Rows<ByteArray> = ids
                .iter()
                .map(|&i| list_of(i, |n| Some(text(&format!("n{i}.{n}")))))
                .collect();
            repeated::<ByteArrayType>(group, &names, 2, 1);
        },
    );
}

fn three_level_lists(folder: &Path) {
    let schema = "
        message hive_schema {
          required int32 id;
          optional group scores (LIST) {
            repeated group bag {
              optional int32 array_element;
            }
          }
          optional group points (LIST) {
            repeated group array {
              required int32 x;
            }
          }
          optional group coords (LIST) {
            repeated group coords_tuple {
              required double lat;
              required double lon;
            }
          }
          optional group attributes (MAP_KEY_VALUE) {
            repeated group map {
              required binary key (UTF8);
              optional int32 value;
            }
          }
        }";
    write_file(
        &folder.join("three_level_lists.parquet"),
        schema,
        WriterProperties::default(),
        |group, rows| {
            let ids = ids(group, rows);
            // Every second item of a score list is missing.
            let scores: Rows<i32> = ids
                .iter()
                .map(|&i| list_of(i, |n| (n % 2 == 0).then_some(i + n)))
                .collect();
            repeated::<Int32Type>(group, &scores, 3, 1);
            let points: Rows<i32> = ids.iter().map(|&i| list_of(i, |n| Some(-i - n))).collect();
            repeated::<Int32Type>(group, &points, 2, 1);
            let lat: Rows<f64> = ids
                .iter()
                .map(|&i| list_of(i, |n| Some(f64::from(i) + f64::from(n) / 4.0)))
                .collect();
            let lon: Rows<f64> = ids
                .iter()
                .map(|&i| list_of(i, |n| Some(-f64::from(i) - f64::from(n) / 8.0)))
                .collect();
            repeated::<DoubleType>(group, &lat, 2, 1);
            repeated::<DoubleType>(group, &lon, 2, 1);
            let keys: Rows<ByteArray> = ids
                .iter()
                .map(|&i| list_of(i, |n| Some(text(&format!("a{n}")))))
                .collect();
            let values: Rows<i32> = ids
                .iter()
                .map(|&i| list_of(i, |n| (n != 1).then_some(i * n)))
                .collect();
            repeated::<ByteArrayType>(group, &keys, 2, 1);
            repeated::<Int32Type>(group, &values, 3, 1);
        },
    );
}

/// A file of plain and dictionary-encoded columns whose footer then records every column
/// chunk's dictionary page offset as 0. The plain column has no dictionary page; the
/// dictionary-encoded one gets its data page offset moved to where its dictionary page starts,
/// so its chunk is still read whole from there.
fn dictionary_offset_zero(folder: &Path) {
    let schema = "
        message schema {
          required int32 id;
          required binary city (UTF8);
          optional double amount;
        }";
    let properties = WriterProperties::builder()
        .set_dictionary_enabled(false)
        .set_column_dictionary_enabled("city".into(), true)
        .build();
    let path = folder.join("dictionary_offset_zero.parquet");
    write_file(&path, schema, properties, |group, rows| {
        let ids = ids(group, rows);
        let cities: Vec<ByteArray> = ids
            .iter()
            .map(|&i| text(["Lisbon", "Oslo"][i as usize % 2]))
            .collect();
        column::<ByteArrayType>(group, &cities, None, None);
        let amounts: Vec<f64> = ids
            .iter()
            .filter(|&&i| i != 2)
            .map(|&i| f64::from(i) * 1.5)
            .collect();
        let definitions: Vec<i16> = ids.iter().map(|&i| i16::from(i != 2)).collect();
        column::<DoubleType>(group, &amounts, Some(&definitions), None);
    });

    rewrite_chunks(&path, |chunk| {
        let start = chunk
            .dictionary_page_offset()
            .unwrap_or(chunk.data_page_offset());
        chunk
            .into_builder()
            .set_data_page_offset(start)
            .set_dictionary_page_offset(Some(0))
    });
}

/// A file in the deprecated LZ4 codec (Hadoop's framing), which older parquet-mr and Arrow C++
/// wrote, and one whose footer says its (uncompressed) pages are LZO, which no reader here
/// decodes.
fn old_codecs(folder: &Path) {
    let schema = "
        message schema {
          required int32 id;
          optional binary word (UTF8);
        }";
    let write = |group: &mut SerializedRowGroupWriter<'_, File>, rows: std::ops::Range<i32>| {
        let ids = ids(group, rows);
        let words: Vec<ByteArray> = ids
            .iter()
            .map(|&i| text(&"word".repeat(i as usize + 1)))
            .collect();
        column::<ByteArrayType>(group, &words, Some(&[1; 3]), None);
    };
    let lz4 = WriterProperties::builder()
        .set_compression(Compression::LZ4)
        .build();
    write_file(&folder.join("lz4_hadoop.parquet"), schema, lz4, write);
    let path = folder.join("lzo_codec.parquet");
    write_file(&path, schema, WriterProperties::default(), write);
    rewrite_chunks(&path, |chunk| {
        chunk.into_builder().set_compression(Compression::LZO)
    });
}

/// Rewrites the footer of the file at `path` with every column chunk's metadata edited.
fn rewrite_chunks(path: &Path, edit: impl Fn(ColumnChunkMetaData) -> ColumnChunkMetaDataBuilder) {
    rewrite_row_groups(path, |row_group| {
        let columns = row_group
            .columns()
            .iter()
            .map(|chunk| edit(chunk.clone()).build().unwrap())
            .collect();
        row_group.into_builder().set_column_metadata(columns)
    });
}

/// Rewrites the footer of the file at `path` with every row group's metadata edited.
fn rewrite_row_groups(path: &Path, edit: impl Fn(RowGroupMetaData) -> RowGroupMetaDataBuilder) {
    let bytes = std::fs::read(path).unwrap();
    let metadata_length = u32::from_le_bytes(bytes[bytes.len() - 8..][..4].try_into().unwrap());
    let footer_start = bytes.len() - 8 - metadata_length as usize;
    let metadata =
        ParquetMetaDataReader::decode_metadata(&bytes[footer_start..bytes.len() - 8]).unwrap();
    let mut builder = metadata.into_builder();
    let row_groups = builder
        .take_row_groups()
        .into_iter()
        .map(|row_group| edit(row_group).build().unwrap())
        .collect();
    let metadata = builder.set_row_groups(row_groups).build();
    let mut out = bytes[..footer_start].to_vec();
    ParquetMetaDataWriter::new(&mut out, &metadata)
        .finish()
        .unwrap();
    std::fs::write(path, out).unwrap();
}

/// Repeated values in a file whose row groups record as their row count the number of values
/// of the repeated column, a writer's mistake that pyarrow reads through.
fn values_as_rows(folder: &Path) {
    let schema = "
        message schema {
          required int32 id;
          repeated int32 tags;
        }";
    let path = folder.join("values_as_rows.parquet");
    write_file(&path, schema, WriterProperties::default(), |group, rows| {
        let ids = ids(group, rows);
        let tags: Rows<i32> = ids
            .iter()
            .map(|&i| Some((0..i % 3 + 1).map(|t| Some(i * 10 + t)).collect()))
            .collect();
        repeated::<Int32Type>(group, &tags, 1, 0);
    });
    rewrite_row_groups(&path, |row_group| {
        let values = row_group.column(1).num_values();
        row_group.into_builder().set_num_rows(values)
    });
}

fn main() {
    let folder = std::env::args()
        .nth(1)
        .expect("usage: legacy_parquet <folder>");
    let folder = Path::new(&folder);
    repeated_fields(folder);
    two_level_lists(folder);
    three_level_lists(folder);
    dictionary_offset_zero(folder);
    old_codecs(folder);
    values_as_rows(folder);
}
