//! Simple filters, `column <op> value`, as pyarrow's `filters=[("col", ">=", v)]`: the rows
//! of each decoded batch are filtered exactly, so the result does not depend on how the file
//! was cut into batches or row groups (Parquet's reader also skips the row groups whose
//! statistics rule a filter out, see `parquet::prune`).

use std::str::FromStr;

use arrow_arith::boolean::and;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, BooleanArray, Datum, RecordBatch, Scalar};
use arrow_ord::cmp;
use arrow_schema::{DataType, Schema};

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
    pub(crate) fn exact_value_as(&self, data_type: &DataType) -> Option<Scalar<ArrayRef>> {
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

pub(crate) fn is_float(data_type: &DataType) -> bool {
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
