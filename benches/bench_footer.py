"""What the footer's contents cost, and how fast one table splits into partition files.

1. The content hash and the column statistics (issue 12): `write` of flights repeated to about
   500 MB with both, with one of them, and with neither, interleaved, lz4 and zstd; their cost
   is the difference as a share of the write without them. `content_hash` of the table in
   memory (the check an unchanged output costs) is timed beside.
2. The partition split: the same table split by day into 365 files (`write_partitions`, what
   a single-run backfill of daily partitions does), against one `write` of the whole table and
   against pyarrow's own splitter (`pyarrow.dataset.write_dataset` with a day partitioning,
   Feather files, the same codec).

Medians of the rounds, on a release build. Writes the `footer` section of benches/RESULTS.md.
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from report import stamp, timed, write_section

import dagster_fastio as fio
from dagster_fastio import api
from dagster_fastio.examples.flights import load_flights, repeat_to_size

VARIANTS = {
    "hash and statistics": {"content_hash": True, "statistics": True},
    "hash only": {"content_hash": True, "statistics": False},
    "statistics only": {"content_hash": False, "statistics": True},
    "neither": {"content_hash": False, "statistics": False},
}


def with_day(table: pa.Table) -> pa.Table:
    day = pc.cast(table["time_hour"], pa.timestamp("us", "UTC")).cast(pa.date32())
    return table.append_column("date", day)


def split_plan(table: pa.Table, folder: Path) -> tuple[list, list]:
    days = sorted(set(table["date"].unique().to_pylist()))
    keys = [("date", [d.isoformat() for d in days])]
    targets = [(str(folder / f"{d.isoformat()}.arrow"), [i], None) for i, d in enumerate(days)]
    return keys, targets


def run(size_bytes: int, rounds: int) -> str:
    table = with_day(repeat_to_size(load_flights(), size_bytes))
    raw_mb = table.nbytes / 1e6
    folder = Path(tempfile.mkdtemp(prefix="fastio-footer-"))
    samples: dict[str, list[float]] = {}

    def sample(name: str, action) -> None:
        samples.setdefault(name, []).append(timed(action))

    keys, targets = split_plan(table, folder / "split")
    (folder / "split").mkdir()
    for _ in range(rounds):
        for codec in ("lz4", "zstd"):
            for variant, options in VARIANTS.items():
                path = folder / f"{codec}.arrow"
                sample(
                    f"{codec}/{variant}",
                    lambda p=path, c=codec, o=options: fio.write(table, p, compression=c, **o),
                )
        sample("content_hash", lambda: api.content_hash(table))
        sample(
            "split/fastio", lambda: api.write_partitions(table, keys, targets, compression="lz4")
        )
        sample("split/one file", lambda: fio.write(table, folder / "one.arrow", compression="lz4"))

        def pyarrow_split() -> None:
            ds.write_dataset(
                table,
                folder / "pyarrow",
                format="ipc",
                partitioning=ds.partitioning(pa.schema([("date", pa.date32())])),
                file_options=ds.IpcFileFormat().make_write_options(compression="lz4"),
                max_rows_per_group=1 << 20,
            )

        # Removed beforehand, outside the timing: write_dataset refuses a folder with files.
        shutil.rmtree(folder / "pyarrow", ignore_errors=True)
        sample("split/pyarrow write_dataset", pyarrow_split)
    shutil.rmtree(folder)
    median = {name: statistics.median(values) for name, values in samples.items()}
    lines = [
        "## Footer contents and the partition split",
        "",
        f"flights repeated to {raw_mb:.0f} MB of Arrow data, median of {rounds} interleaved "
        "rounds.",
        "",
        "| write | lz4 s | cost | zstd s | cost |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for variant in VARIANTS:
        row = [variant]
        for codec in ("lz4", "zstd"):
            seconds = median[f"{codec}/{variant}"]
            cost = seconds / median[f"{codec}/neither"] - 1
            row += [f"{seconds:.3f}", "-" if variant == "neither" else f"{cost:+.1%}"]
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        f"`content_hash` of the table in memory: {median['content_hash']:.3f} s "
        f"({raw_mb / median['content_hash']:.0f} MB/s).",
        "",
        f"| split by day into {len(targets)} lz4 files | s | MB/s | vs one file |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in ("split/fastio", "split/pyarrow write_dataset", "split/one file"):
        seconds = median[name]
        lines.append(
            f"| {name.split('/', 1)[1]} | {seconds:.3f} | {raw_mb / seconds:.0f} | "
            f"{seconds / median['split/one file']:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    text = run(args.size_mb * 10**6, args.rounds)
    versions = f"pyarrow {pa.__version__}, dagster-fastio {fio.__version__}"
    command = f"python benches/bench_footer.py --size-mb {args.size_mb} --rounds {args.rounds}"
    write_section("footer", text + "\n\n" + stamp(versions) + f" `{command}`.\n")
    print(text)


if __name__ == "__main__":
    main()
