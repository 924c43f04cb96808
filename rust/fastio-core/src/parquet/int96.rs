//! INT96 timestamps (Impala's, Hive's and Spark's, a Julian day and the nanoseconds into it)
//! read at a unit that holds them, or refused: never a different date.
//!
//! arrow-rs reads INT96 as nanoseconds unless the Arrow schema a file embeds says another
//! unit, and a day outside 1677-09-21 to 2262-04-11 wraps around silently into another date.
//! Spark wrote such days without any embedded schema (`0001-01-01` for unknown dates,
//! `9999-12-31` for open ends). Here each INT96 column is also decoded at whole seconds, which
//! holds any day, and each value read at the chosen unit must fall in the same second; a value
//! that does not was wrapped, and the read is refused naming the setting that reads it.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampSecondType};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, TimeUnit};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::{parquet_to_arrow_schema_by_columns, ProjectionMask};
use parquet::basic::Type as PhysicalType;

use crate::error::{FastIoError, Result};
use crate::parquet::read_error;

/// The setting that chooses the unit, as pyarrow names it.
pub const INT96_UNIT_SETTING: &str = "coerce_int96_timestamp_unit";

/// `"s"`, `"ms"`, `"us"` or `"ns"` as a unit (pyarrow's names).
pub fn parse_time_unit(name: &str) -> Result<TimeUnit> {
    match name.to_ascii_lowercase().as_str() {
        "s" => Ok(TimeUnit::Second),
        "ms" => Ok(TimeUnit::Millisecond),
        "us" => Ok(TimeUnit::Microsecond),
        "ns" => Ok(TimeUnit::Nanosecond),
        _ => Err(FastIoError::InvalidArgument(format!(
            "unknown {INT96_UNIT_SETTING} {name:?}: expected \"s\", \"ms\", \"us\" or \"ns\""
        ))),
    }
}

/// One step from a field towards an INT96 leaf.
enum Step {
    /// The struct child of this name.
    Child(String),
    /// The item of a list, or the entries of a map.
    Item,
}

/// How the INT96 columns of a file are read and checked.
#[derive(Clone)]
pub(crate) struct Int96Columns {
    /// Root columns holding an INT96 leaf.
    pub roots: Vec<usize>,
    /// The file's metadata with every INT96 field read at whole seconds.
    pub seconds: ArrowReaderMetadata,
}

/// The metadata to read the file with (its INT96 fields at `unit` when given), and the INT96
/// columns to check; None when the file has none.
pub(crate) fn plan(
    metadata: ArrowReaderMetadata,
    unit: Option<TimeUnit>,
) -> Result<(ArrowReaderMetadata, Option<Int96Columns>)> {
    let descriptor = metadata.parquet_schema();
    let leaves: Vec<usize> = (0..descriptor.num_columns())
        .filter(|&leaf| descriptor.column(leaf).physical_type() == PhysicalType::INT96)
        .collect();
    if leaves.is_empty() {
        return Ok((metadata, None));
    }
    let mut paths = Vec::new();
    for &leaf in &leaves {
        let mask = ProjectionMask::leaves(descriptor, [leaf]);
        let alone =
            parquet_to_arrow_schema_by_columns(descriptor, mask, None).map_err(read_error)?;
        let mut steps = Vec::new();
        steps_to_leaf(alone.field(0), &mut steps);
        paths.push((descriptor.get_column_root_idx(leaf), steps));
    }
    let mut roots: Vec<usize> = paths.iter().map(|(root, _)| *root).collect();
    roots.dedup();
    let chosen = match unit {
        Some(unit) => with_unit(&metadata, &paths, unit)?,
        None => metadata,
    };
    let seconds = with_unit(&chosen, &paths, TimeUnit::Second)?;
    Ok((chosen, Some(Int96Columns { roots, seconds })))
}

fn steps_to_leaf(field: &Field, steps: &mut Vec<Step>) {
    match field.data_type() {
        DataType::Struct(children) if children.len() == 1 => {
            steps.push(Step::Child(children[0].name().clone()));
            steps_to_leaf(&children[0], steps);
        }
        DataType::List(item)
        | DataType::LargeList(item)
        | DataType::FixedSizeList(item, _)
        | DataType::Map(item, _) => {
            steps.push(Step::Item);
            steps_to_leaf(item, steps);
        }
        _ => {}
    }
}

/// `metadata` with the INT96 fields at `paths` read at `unit`.
fn with_unit(
    metadata: &ArrowReaderMetadata,
    paths: &[(usize, Vec<Step>)],
    unit: TimeUnit,
) -> Result<ArrowReaderMetadata> {
    let schema = metadata.schema();
    let mut fields: Vec<FieldRef> = schema.fields().iter().cloned().collect();
    for (root, steps) in paths {
        fields[*root] = Arc::new(retimed(&fields[*root], steps, unit).ok_or_else(|| {
            FastIoError::UnsupportedParquet(format!(
                "the INT96 timestamps of column {:?} lie where this reader cannot choose their \
                 unit",
                fields[*root].name()
            ))
        })?);
    }
    let hinted = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let options = ArrowReaderOptions::new().with_schema(hinted);
    ArrowReaderMetadata::try_new(metadata.metadata().clone(), options).map_err(read_error)
}

/// `field` with the timestamp at the end of `steps` at `unit` (its zone kept).
fn retimed(field: &Field, steps: &[Step], unit: TimeUnit) -> Option<Field> {
    let data_type = match (steps.split_first(), field.data_type()) {
        (None, DataType::Timestamp(_, zone)) => DataType::Timestamp(unit, zone.clone()),
        (Some((Step::Child(name), rest)), DataType::Struct(children)) => {
            let children: Fields = children
                .iter()
                .map(|child| match child.name() == name {
                    true => retimed(child, rest, unit).map(Arc::new),
                    false => Some(child.clone()),
                })
                .collect::<Option<Vec<_>>>()?
                .into();
            DataType::Struct(children)
        }
        (Some((Step::Item, rest)), DataType::List(item)) => {
            DataType::List(Arc::new(retimed(item, rest, unit)?))
        }
        (Some((Step::Item, rest)), DataType::LargeList(item)) => {
            DataType::LargeList(Arc::new(retimed(item, rest, unit)?))
        }
        (Some((Step::Item, rest)), DataType::FixedSizeList(item, size)) => {
            DataType::FixedSizeList(Arc::new(retimed(item, rest, unit)?), *size)
        }
        (Some((Step::Item, rest)), DataType::Map(entries, sorted)) => {
            DataType::Map(Arc::new(retimed(entries, rest, unit)?), *sorted)
        }
        _ => return None,
    };
    Some(field.clone().with_data_type(data_type))
}

/// Refuses `chosen` (a column decoded at the chosen units) unless each of its INT96 values
/// falls in the second `seconds` (the same column decoded at whole seconds) holds.
pub(crate) fn check_range(name: &str, chosen: &ArrayRef, seconds: &ArrayRef) -> Result<()> {
    match (chosen.data_type(), seconds.data_type()) {
        (DataType::Timestamp(unit, _), DataType::Timestamp(TimeUnit::Second, _))
            if *unit != TimeUnit::Second =>
        {
            let per_second: i64 = match unit {
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                _ => 1_000_000_000,
            };
            let values = chosen.to_data();
            let values = arrow_array::PrimitiveArray::<Int64Type>::from(
                values.into_builder().data_type(DataType::Int64).build()?,
            );
            let whole = seconds.as_primitive::<TimestampSecondType>();
            let wrapped =
                values
                    .iter()
                    .zip(whole.iter())
                    .any(|(value, second)| match (value, second) {
                        (Some(value), Some(second)) => value.div_euclid(per_second) != second,
                        (None, None) => false,
                        _ => true,
                    });
            if wrapped {
                return Err(out_of_range(name, *unit));
            }
            Ok(())
        }
        (DataType::Struct(_), DataType::Struct(_)) => {
            let (chosen, seconds) = (chosen.as_struct(), seconds.as_struct());
            for (a, b) in chosen.columns().iter().zip(seconds.columns()) {
                check_range(name, a, b)?;
            }
            Ok(())
        }
        (DataType::List(_), DataType::List(_)) => check_range(
            name,
            chosen.as_list::<i32>().values(),
            seconds.as_list::<i32>().values(),
        ),
        (DataType::LargeList(_), DataType::LargeList(_)) => check_range(
            name,
            chosen.as_list::<i64>().values(),
            seconds.as_list::<i64>().values(),
        ),
        (DataType::FixedSizeList(..), DataType::FixedSizeList(..)) => check_range(
            name,
            chosen.as_fixed_size_list().values(),
            seconds.as_fixed_size_list().values(),
        ),
        (DataType::Map(..), DataType::Map(..)) => {
            let (chosen, seconds) = (chosen.as_map(), seconds.as_map());
            for (a, b) in chosen
                .entries()
                .columns()
                .iter()
                .zip(seconds.entries().columns())
            {
                check_range(name, a, b)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn out_of_range(name: &str, unit: TimeUnit) -> FastIoError {
    let (unit_name, years, coarser) = match unit {
        TimeUnit::Millisecond => ("milliseconds", "years -292 million to 292 million", "\"s\""),
        TimeUnit::Microsecond => ("microseconds", "years -290308 to 294247", "\"ms\" or \"s\""),
        _ => (
            "nanoseconds",
            "years 1677 to 2262",
            "\"us\", \"ms\" or \"s\"",
        ),
    };
    FastIoError::UnsupportedParquet(format!(
        "column {name:?} holds INT96 timestamps outside what {unit_name} hold ({years}); \
         read it with {INT96_UNIT_SETTING}={coarser}, as pyarrow's setting of that name"
    ))
}
