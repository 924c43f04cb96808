"""What a user of an installed dagster-fastio does first, run against that installation.

    python wheel_smoke.py [--standalone] FOLDER

- the standalone API: `encode`/`decode` and `write`/`read` (zstd, lz4, none) round-trip a table
  of several types exactly, and pyarrow reads our file and we read pyarrow's;
- `fastio inspect --json` on the file just written, through the installed console script;
- unless `--standalone`: FastIOManager on FOLDER materializes a pandas and a polars asset and
  loads both downstream (dagster.materialize), and the stored files are Arrow IPC files.

tests/test_wheel.py runs it in fresh virtual environments with the built wheel (or the sdist)
installed, and the release workflow runs it on every platform's wheel. It imports nothing from
the checkout: run it from a folder where `dagster_fastio` is not importable from the source.
"""

# No `from __future__ import annotations`: Dagster resolves the assets' annotations at
# definition time, and they name modules imported inside check_dagster.
import argparse
import datetime
import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather

import dagster_fastio as fio


def sample_table() -> pa.Table:
    rows = 10_000
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "value": pa.array([i / 7 for i in range(rows)], pa.float64()),
            "label": pa.array([f"row {i % 97}" if i % 11 else None for i in range(rows)]),
            "day": pa.array(
                [datetime.date(2024, 1, 1) + datetime.timedelta(days=i % 366) for i in range(rows)]
            ),
        }
    )


def check_standalone(folder: Path) -> Path:
    """Round trips through bytes and files, checked against pyarrow; returns a written file."""
    table = sample_table()
    for compression in ("zstd", "lz4", "none"):
        encoded = fio.encode(table, compression=compression)
        assert fio.decode(encoded).equals(table), compression
        assert pa.ipc.open_file(pa.py_buffer(bytes(encoded))).read_all().equals(table), compression
    ours = folder / "ours.arrow"
    info = fio.write(table, ours)
    assert info.rows == table.num_rows, info
    assert fio.read(ours).equals(table)
    assert fio.read(ours, columns=["label"]).equals(table.select(["label"]))
    assert feather.read_table(ours).equals(table)
    theirs = folder / "pyarrow.feather"
    feather.write_feather(table, theirs, compression="lz4")
    assert fio.read(theirs).equals(table)
    return ours


def check_inspect(path: Path) -> None:
    """`fastio inspect` as this interpreter's installation put it in its scripts folder."""
    scripts = sysconfig.get_path("scripts")
    script = shutil.which("fastio", path=scripts)
    assert script is not None, f"no fastio script in {scripts}"
    done = subprocess.run(
        [script, "inspect", str(path), "--json"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows"] == sample_table().num_rows, summary
    assert summary["compression"] == "zstd", summary


def check_dagster(folder: Path) -> None:
    """A pandas and a polars asset stored by FastIOManager and loaded downstream."""
    import dagster as dg
    import pandas as pd
    import polars as pl

    from dagster_fastio import FastIOManager

    @dg.asset
    def pandas_frame() -> pd.DataFrame:
        return pd.DataFrame({"id": range(1000), "name": [f"n{i}" for i in range(1000)]})

    @dg.asset
    def polars_frame() -> pl.DataFrame:
        return pl.DataFrame({"id": range(1000), "score": [i * 0.5 for i in range(1000)]})

    @dg.asset
    def joined(pandas_frame: pd.DataFrame, polars_frame: pl.DataFrame) -> int:
        assert isinstance(pandas_frame, pd.DataFrame)
        assert isinstance(polars_frame, pl.DataFrame)
        merged = pandas_frame.merge(polars_frame.to_pandas(), on="id")
        return len(merged)

    base = folder / "storage"
    result = dg.materialize(
        [pandas_frame, polars_frame, joined],
        resources={"io_manager": FastIOManager(base_path=str(base))},
    )
    assert result.success
    assert result.output_for_node("joined") == 1000
    for name in ("pandas_frame", "polars_frame"):
        stored = base / f"{name}.arrow"
        assert feather.read_table(stored).num_rows == 1000, stored
    assert (base / "joined.pickle.zst").exists()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--standalone", action="store_true", help="skip the Dagster check")
    args = parser.parse_args()
    installed = Path(fio.__file__).resolve()
    # The installation under test, not a checkout that happens to be importable.
    assert Path(sys.prefix).resolve() in installed.parents, (installed, sys.prefix)
    args.folder.mkdir(parents=True, exist_ok=True)
    written = check_standalone(args.folder)
    check_inspect(written)
    if not args.standalone:
        check_dagster(args.folder)
    print(f"dagster-fastio {fio.__version__} from {installed.parent}: all checks passed")


if __name__ == "__main__":
    main()
