"""What an input annotation asks for: the table type, ``Optional``, one value per partition
(a dict), a dataset, or a reference to the stored files. Resolved by class name, so resolving
imports none of the libraries named. No Dagster import.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagster_fastio.tables.handlers import TableType, named_in_mro

__all__ = ["InputSpec"]


@dataclass(frozen=True, slots=True)
class InputSpec:
    """What an input annotation asks for, resolved once."""

    optional: bool
    """``Optional[...]``: nothing stored loads as None."""
    by_partition: bool
    """A dict (``dict[partition_key, ...]``): one value per upstream partition."""
    table_type: TableType | None
    """The type wanted; None for the type that was stored."""
    value_type: TableType | None
    """For a dict, the type of each value; None for the type that was stored."""
    dataset: bool = False
    """``pyarrow.dataset.Dataset``: the stored files as one dataset (``stored.arrow_scan``)."""
    reference: str | None = None
    """``"duckdb"`` for ``duckdb.DuckDBPyRelation`` (a relation over the stored files),
    ``"stored_table"`` for ``dagster_fastio.StoredTable`` (what is stored, nothing read)."""

    @staticmethod
    def of(annotation: Any) -> InputSpec:
        inner, optional = _strip_optional(annotation)
        value_annotation = _dict_value_annotation(inner)
        by_partition = value_annotation is not None
        return InputSpec(
            optional=optional,
            by_partition=by_partition,
            table_type=None if by_partition else named_in_mro(inner),
            value_type=named_in_mro(value_annotation) if by_partition else None,
            dataset=not by_partition and _is_arrow_dataset(inner),
            reference=None if by_partition else _reference_kind(inner),
        )


# By class name, as the handlers are matched, so that resolving never imports duckdb.
_REFERENCES = {
    ("duckdb", "DuckDBPyRelation"): "duckdb",
    ("_duckdb", "DuckDBPyRelation"): "duckdb",
    ("dagster_fastio", "StoredTable"): "stored_table",
}


def _reference_kind(annotation: Any) -> str | None:
    if not isinstance(annotation, type):
        return None
    for klass in annotation.__mro__:
        found = _REFERENCES.get((klass.__module__.split(".")[0], klass.__qualname__))
        if found is not None:
            return found
    return None


def _is_arrow_dataset(annotation: Any) -> bool:
    # By name, as the handlers are matched: checking never imports pyarrow.dataset.
    return isinstance(annotation, type) and any(
        klass.__module__ == "pyarrow._dataset" and klass.__qualname__ == "Dataset"
        for klass in annotation.__mro__
    )


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _dict_value_annotation(annotation: Any) -> Any:
    """The annotation of a dict annotation's values (Any when unparametrised), else None."""
    if annotation in (dict, Mapping, typing.Dict):  # noqa: UP006
        return Any
    if typing.get_origin(annotation) in (dict, Mapping, typing.Dict):  # noqa: UP006
        args = typing.get_args(annotation)
        return args[1] if len(args) == 2 else Any
    return None
