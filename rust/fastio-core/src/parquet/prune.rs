//! Row groups ruled out by their statistics before anything is fetched: a filter that no row
//! of a row group can pass (by its min and max) skips that row group's column chunks.

use arrow_arith::boolean::and;
use arrow_array::{Array, ArrayRef, BooleanArray};
use arrow_ord::cmp;
use arrow_schema::Schema;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::file::metadata::ParquetMetaData;

use crate::batch::row_filter::{is_float, ColumnFilter, Comparison};
use crate::error::Result;

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
