"""``fastio report`` for people: tables of writes, loads and pickle's cost, then totals and a
month's cost. ``--json`` prints the same figures for programs."""

from __future__ import annotations

from typing import Any

from dagster_fastio.cli.common import size_text
from dagster_fastio.cli.report.figures import Figures

__all__ = ["print_report"]

_WIDTH = 132
"""Columns when the output is not a terminal that says its own width (a pipe, a file)."""


def print_report(
    result: dict[str, Any], rows: list[Figures], partition_rows: list[Figures]
) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=_WIDTH)
    window = result["window"]
    console.print(
        f"{window['since']} to {window['until']} ({window['days']:g} days); trend against the "
        f"window before, from {window['previous_since']}; instance storage "
        f"{result['instance']['storage']}"
    )
    if not rows:
        console.print("No FastIOManager writes or loads recorded in the window.")
        return
    shown = rows + partition_rows

    def table(title: str, columns: list[str]) -> Any:
        made = Table(title=title, title_justify="left")
        for column in columns:
            made.add_column(column, justify="left" if column == "asset" else "right")
        return made

    writes = table(
        "Writes",
        [
            "asset",
            "mats",
            "rows",
            "raw MB",
            "stored MB",
            "s",
            "MB/s",
            "peak MB",
            "trend",
            "held MB",
            "files",
        ],
    )
    loads = table("Loads", ["asset", "loads", "rows", "MB", "s", "MB/s", "peak MB", "trend"])
    pickle = table(
        f"As pickle ({', '.join(result['pickle_reference'])})",
        [
            "asset",
            "held MB",
            "pickle MB",
            "write s",
            "pickle s",
            "load s",
            "pickle s",
            "peak MB w/l",
            "pickle w/l",
        ],
    )
    for f in shown:
        # Asset and partition names are text, not rich markup ("[a]" would vanish).
        name = escape(f.asset if f.partition is None else f"{f.asset} [{f.partition}]")
        writes.add_row(
            name,
            f"{f.materializations}" + (f" ({f.unchanged} same)" if f.unchanged else ""),
            _num(f.rows_written, ",d"),
            _mb(f.raw_bytes_written),
            _mb(f.stored_bytes_written),
            _num(f.write_seconds, ",.3f"),
            _num(f.write_mb_per_s, ",.1f"),
            _num(f.write_peak_memory_mb, ",.1f"),
            _trend(f.write_trend),
            _mb(f.held_bytes),
            _num(f.held_files, ",d"),
        )
        if f.loads:
            loads.add_row(
                name,
                str(f.loads),
                _num(f.load_rows, ",d"),
                _mb(f.load_bytes),
                _num(f.load_seconds, ",.3f"),
                _num(f.load_mb_per_s, ",.1f"),
                _num(f.load_peak_memory_mb, ",.1f"),
                _trend(f.load_trend),
            )
        p = f.pickle
        pickle.add_row(
            name,
            _mb(f.held_bytes),
            _mb(p.get("held_bytes")),
            _num(f.write_seconds, ",.3f"),
            _num(p.get("write_seconds"), ",.3f"),
            _num(f.load_seconds if f.loads else None, ",.3f"),
            _num(p.get("load_seconds") if f.loads else None, ",.3f"),
            f"{_num(f.write_peak_memory_mb, ',.0f')}/{_num(f.load_peak_memory_mb, ',.0f')}",
            f"{_num(p.get('write_peak_memory_mb'), ',.0f')}/"
            f"{_num(p.get('load_peak_memory_mb'), ',.0f')}",
        )
    console.print(writes)
    if loads.row_count:
        console.print(loads)
    console.print(pickle)
    totals = result["totals"]
    elsewhere = result["held_elsewhere"]
    console.print(
        f"Totals: {totals['materializations']} materializations, "
        f"{size_text(int(totals['stored_bytes_written']))} stored of "
        f"{size_text(int(totals['raw_bytes_written']))} raw in "
        f"{totals['write_seconds']:,.2f} s; {totals['loads']} loads of "
        f"{size_text(int(totals['load_bytes']))} in {totals['load_seconds']:,.2f} s; held now "
        f"{size_text(totals['held_bytes'])}"
        + (
            f" (and {size_text(elsewhere['bytes'])} in {elsewhere['files']} other files under "
            "the bases)"
            if elsewhere and elsewhere["files"]
            else ""
        )
    )
    for manager, reference in result["pickle_reference"].items():
        console.print(f"Pickle's cost: {manager}, {reference['source']}")
    cost, prices = totals["cost"], result["prices"]
    console.print(
        f"A month at ${prices['storage_usd_gb_month']}/GB-month held and "
        f"${prices['transfer_usd_gb']}/GB moved: storage "
        f"${_num(cost.get('storage_usd_month'), ',.4f')} (pickle "
        f"${_num(cost.get('pickle_storage_usd_month'), ',.4f')}), transfer "
        f"${_num(cost.get('transfer_usd_month'), ',.4f')} (pickle "
        f"${_num(cost.get('pickle_transfer_usd_month'), ',.4f')})"
    )


def _mb(count: float | None) -> str:
    return "-" if count is None else f"{count / 1e6:,.2f}"


def _num(value: float | None, spec: str = ",.2f") -> str:
    return "-" if value is None else format(value, spec)


def _trend(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"
