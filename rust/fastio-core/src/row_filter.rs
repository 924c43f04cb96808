//! Simple filters, `column <op> value`, as pyarrow's `filters=[("col", ">=", v)]`: row groups
//! whose statistics rule a filter out are never fetched nor decoded, and the rows of the
//! others are filtered exactly after decoding, so the result does not depend on how the file
//! was cut into row groups.

use std::str::FromStr;

use arrow_arith::boolean::and;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, BooleanArray, Datum, RecordBatch, Scalar};
use arrow_ord::cmp;
use arrow_schema::{DataType, Schema};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::file::metadata::ParquetMetaData;

use crate::error::{FastIoError, Result};

/// The comparisons a filter can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl FromStr for Comparison {
    type Err = FastIoError;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "==" | "=" => Comparison::Eq,
            "!=" => Comparison::NotEq,
            "<" => Comparison::Lt,
            "<=" => Comparison::LtEq,
            ">" => Comparison::Gt,
            ">=" => Comparison::GtEq,
            _ => {
                return Err(FastIoError::InvalidArgument(format!(
                    "unknown filter operator {s:?}: expected \"==\", \"!=\", \"<\", \"<=\", \
                     \">\" or \">=\""
                )))
            }
        })
    }
}

/// `column <comparison> value`, the value an array of one element.
#[derive(Debug, Clone)]
pub struct ColumnFilter {
    pub column: String,
    pub comparison: Comparison,
    pub value: ArrayRef,
}

impl ColumnFilter {
    pub fn new(column: String, comparison: Comparison, value: ArrayRef) -> Result<Self> {
        if value.len() != 1 || value.is_null(0) {
            return Err(FastIoError::InvalidArgument(format!(
                "the filter on {column:?} needs one value that is not null"
            )));
        }
        Ok(ColumnFilter {
            column,
            comparison,
            value,
        })
    }

    /// The value as `data_type`, when it converts to it exactly (2.5 does not become an
    /// integer, a datetime does not become a date): comparing in the column's own type then
    /// gives what comparing in the wider of the two types would.
    fn exact_value_as(&self, data_type: &DataType) -> Option<Scalar<ArrayRef>> {
        let value = arrow_cast::cast(&self.value, data_type).ok()?;
        if value.is_null(0) {
            return None;
        }
        let back = arrow_cast::cast(&value, self.value.data_type()).ok()?;
        (back.as_ref() == self.value.as_ref()).then(|| Scalar::new(value))
    }

    /// `column <comparison> value` for every row, as pyarrow compares: in the column's type
    /// when the value converts to it exactly, else with the column converted to the value's
    /// type; floats by IEEE rules (NaN equals nothing, -0 equals 0).
    fn evaluate(&self, column: &ArrayRef) -> Result<BooleanArray> {
        let refused = |e: arrow_schema::ArrowError| {
            FastIoError::InvalidArgument(format!(
                "the filter value for {:?} ({}) cannot be compared with a column of type {}: {e}",
                self.column,
                self.value.data_type(),
                column.data_type()
            ))
        };
        let (column, value) = match self.exact_value_as(column.data_type()) {
            Some(value) => (column.clone(), value),
            None => {
                let widened = arrow_cast::cast(column, self.value.data_type()).map_err(refused)?;
                (widened, Scalar::new(self.value.clone()))
            }
        };
        if is_float(column.data_type()) {
            let (value, _) = value.get();
            return ieee_compare(&column, value, self.comparison).map_err(refused);
        }
        match self.comparison {
            Comparison::Eq => cmp::eq(&column, &value),
            Comparison::NotEq => cmp::neq(&column, &value),
            Comparison::Lt => cmp::lt(&column, &value),
            Comparison::LtEq => cmp::lt_eq(&column, &value),
            Comparison::Gt => cmp::gt(&column, &value),
            Comparison::GtEq => cmp::gt_eq(&column, &value),
        }
        .map_err(refused)
    }
}

fn is_float(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Float16 | DataType::Float32 | DataType::Float64
    )
}

/// A float column compared by IEEE rules, which pyarrow follows: arrow's comparison kernels
/// order floats totally instead (NaN equal to NaN and above every number, -0 below 0).
fn ieee_compare(
    column: &ArrayRef,
    value: &dyn Array,
    comparison: Comparison,
) -> Result<BooleanArray, arrow_schema::ArrowError> {
    let column = arrow_cast::cast(column, &DataType::Float64)?;
    let value = arrow_cast::cast(value, &DataType::Float64)?;
    let column = column.as_primitive::<Float64Type>();
    let v = value.as_primitive::<Float64Type>().value(0);
    let compare: fn(f64, f64) -> bool = match comparison {
        Comparison::Eq => |a, b| a == b,
        Comparison::NotEq => |a, b| a != b,
        Comparison::Lt => |a, b| a < b,
        Comparison::LtEq => |a, b| a <= b,
        Comparison::Gt => |a, b| a > b,
        Comparison::GtEq => |a, b| a >= b,
    };
    Ok(BooleanArray::from_unary(column, |a| compare(a, v)))
}

/// Every column a filter names, checked against `schema`.
pub fn filter_columns(filters: &[ColumnFilter], schema: &Schema) -> Result<Vec<usize>> {
    filters
        .iter()
        .map(|filter| {
            schema.index_of(&filter.column).map_err(|_| {
                FastIoError::InvalidArgument(format!(
                    "cannot filter on {:?}: the file has no such column",
                    filter.column
                ))
            })
        })
        .collect()
}

/// The row groups of `metadata` whose statistics allow a row to pass every filter; a row
/// group without statistics for a column is kept.
pub fn chosen_row_groups(
    filters: &[ColumnFilter],
    schema: &Schema,
    metadata: &ParquetMetaData,
) -> Result<Vec<usize>> {
    let row_groups = metadata.row_groups();
    let mut keep = vec![true; row_groups.len()];
    for filter in filters {
        // Types the statistics cannot speak for (nested, for instance) rule nothing out.
        let Ok(converter) = StatisticsConverter::try_new(
            &filter.column,
            schema,
            metadata.file_metadata().schema_descr(),
        ) else {
            continue;
        };
        // A float column's bounds leave NaN out (the writer skips it), so they do not bound
        // every row.
        if is_float(converter.arrow_field().data_type()) {
            continue;
        }
        let leaf = converter.parquet_column_index();
        let (Ok(mins), Ok(maxes)) = (
            converter.row_group_mins(row_groups.iter()),
            converter.row_group_maxes(row_groups.iter()),
        ) else {
            continue;
        };
        let Some(possible) = possible_rows(filter, &mins, &maxes)? else {
            continue;
        };
        for (index, kept) in keep.iter_mut().enumerate() {
            // Null: the statistics are missing, so the row group may hold a match. Statistics
            // in the deprecated fields may come from writers that ordered bytes as signed,
            // which puts non-ASCII text below ASCII: they are not trusted.
            let deprecated = leaf.is_some_and(|leaf| {
                row_groups[index]
                    .column(leaf)
                    .statistics()
                    .is_some_and(|statistics| statistics.is_min_max_deprecated())
            });
            if !deprecated && possible.is_valid(index) && !possible.value(index) {
                *kept = false;
            }
        }
    }
    Ok((0..row_groups.len()).filter(|index| keep[*index]).collect())
}

/// Per row group, whether its [min, max] range may hold a matching row; None when the
/// statistics' type cannot be compared with the value.
fn possible_rows(
    filter: &ColumnFilter,
    mins: &ArrayRef,
    maxes: &ArrayRef,
) -> Result<Option<BooleanArray>> {
    // A value the statistics' type cannot hold exactly rules nothing out.
    let Some(value) = filter.exact_value_as(mins.data_type()) else {
        return Ok(None);
    };
    let compared = match filter.comparison {
        Comparison::Eq => cmp::lt_eq(mins, &value).and_then(|low| {
            let high = cmp::gt_eq(maxes, &value)?;
            and(&low, &high)
        }),
        // Only a row group holding nothing but the value (and nulls) is ruled out.
        Comparison::NotEq => cmp::neq(mins, &value).and_then(|low| {
            let high = cmp::neq(maxes, &value)?;
            arrow_arith::boolean::or(&low, &high)
        }),
        Comparison::Lt => cmp::lt(mins, &value),
        Comparison::LtEq => cmp::lt_eq(mins, &value),
        Comparison::Gt => cmp::gt(maxes, &value),
        Comparison::GtEq => cmp::gt_eq(maxes, &value),
    };
    Ok(compared.ok())
}

/// The rows of `batch` that pass every filter (a null never passes).
pub fn filter_rows(batch: &RecordBatch, filters: &[ColumnFilter]) -> Result<RecordBatch> {
    if filters.is_empty() {
        return Ok(batch.clone());
    }
    let mut mask: Option<BooleanArray> = None;
    for filter in filters {
        let column = batch.column_by_name(&filter.column).ok_or_else(|| {
            FastIoError::InvalidArgument(format!(
                "cannot filter on {:?}: no such column",
                filter.column
            ))
        })?;
        let column = match column.data_type() {
            // Comparisons take a dictionary's values, not the dictionary itself.
            DataType::Dictionary(_, values) => arrow_cast::cast(column, values)?,
            _ => column.clone(),
        };
        let passed = filter.evaluate(&column)?;
        mask = Some(match mask {
            None => passed,
            Some(previous) => and(&previous, &passed)?,
        });
    }
    let mask = mask.expect("at least one filter");
    Ok(arrow_select::filter::filter_record_batch(batch, &mask)?)
}
