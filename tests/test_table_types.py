"""The table-type handlers and input specs, and describe()'s typed result, without Dagster."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import dagster_fastio as fio
from dagster_fastio.api import BatchSummary, IpcSummary, describe
from dagster_fastio.table_types import TABLE_TYPES, InputSpec, table_type_of


def test_every_handler_has_its_own_name() -> None:
    names = [table_type.name for table_type in TABLE_TYPES]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (pa.table({"a": [1]}), "pyarrow.Table"),
        (pa.record_batch({"a": [1]}), "pyarrow.Table"),
        (pa.table({"a": [1]}).to_reader(), "pyarrow.RecordBatchReader"),
        (pd.DataFrame({"a": [1]}), "pandas.DataFrame"),
        (pl.DataFrame({"a": [1]}), "polars.DataFrame"),
        (pl.LazyFrame({"a": [1]}), "polars.LazyFrame"),
        (pa.array([1, 2]), None),
        (pd.Series([1, 2]), None),
        ({"a": 1}, None),
    ],
)
def test_outputs_find_their_handler(value: Any, name: str | None) -> None:
    found = table_type_of(value)
    assert (found.name if found else None) == name


@pytest.mark.parametrize(
    ("annotation", "optional", "by_partition", "table_type", "value_type"),
    [
        (Any, False, False, None, None),
        (pa.Table, False, False, "pyarrow.Table", None),
        (Optional[pd.DataFrame], True, False, "pandas.DataFrame", None),  # noqa: UP045
        (pl.LazyFrame | None, True, False, "polars.LazyFrame", None),
        (dict, False, True, None, None),
        (dict[str, pl.DataFrame], False, True, None, "polars.DataFrame"),
        (dict[str, Any] | None, True, True, None, None),
    ],
)
def test_input_specs_are_resolved_from_the_annotation(
    annotation: Any,
    optional: bool,
    by_partition: bool,
    table_type: str | None,
    value_type: str | None,
) -> None:
    spec = InputSpec.of(annotation)
    assert spec.optional is optional
    assert spec.by_partition is by_partition
    assert (spec.table_type.name if spec.table_type else None) == table_type
    assert (spec.value_type.name if spec.value_type else None) == value_type


def test_checking_types_imports_neither_pandas_nor_polars() -> None:
    import subprocess

    code = (
        "import sys; from dagster_fastio.table_types import InputSpec, table_type_of; "
        "table_type_of({'a': 1}); InputSpec.of(dict); "
        "print(sorted({'pandas', 'polars', 'dagster'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_describe_returns_one_record_per_batch(tmp_path: Path) -> None:
    path = tmp_path / "t.arrow"
    fio.write(pa.table({"a": list(range(10))}), path, compression="lz4", chunk_rows=4)
    summary = describe(path)
    assert isinstance(summary, IpcSummary)
    assert summary.format == "file"
    assert summary.rows == 10
    assert len(summary.batches) > 1
    assert sum(batch.rows for batch in summary.batches) == 10
    assert all(isinstance(batch, BatchSummary) for batch in summary.batches)
    assert summary.codecs == ["lz4"]
    assert summary.stored_bytes == path.stat().st_size
    assert summary.schema == pa.schema([("a", pa.int64())])
