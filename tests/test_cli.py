"""The `fastio` command: inspect, head and convert, on files from our writer, pyarrow and
polars, locally and in s3s-fs."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from servers import S3Server

import dagster_fastio as fio
from dagster_fastio import _core
from dagster_fastio.cli import main


def sample(rows: int = 50_000) -> pa.Table:
    rng = np.random.default_rng(7)
    return pa.table(
        {
            "id": np.arange(rows),
            "value": rng.random(rows),
            "label": pa.array(rng.integers(0, 9, rows).astype(str)),
        }
    )


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture
def files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """The same table from each writer, with the codec each used."""
    import polars as pl

    table = sample()
    ours = tmp_path / "ours.arrow"
    fio.write(table, ours, compression="zstd", chunk_rows=10_000)
    by_pyarrow = tmp_path / "pyarrow.feather"
    feather.write_feather(table, by_pyarrow, compression="lz4", chunksize=20_000)
    stream = tmp_path / "stream.arrows"
    with pa.ipc.new_stream(stream, table.schema) as writer:
        writer.write_table(table, max_chunksize=25_000)
    by_polars = tmp_path / "polars.arrow"
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    frame.write_ipc(by_polars, compression="zstd")
    return {
        "ours": (ours, "zstd"),
        "pyarrow": (by_pyarrow, "lz4"),
        "stream": (stream, "none"),
        "polars": (by_polars, "zstd"),
    }


@pytest.mark.parametrize("writer", ["ours", "pyarrow", "stream", "polars"])
def test_inspect_json_describes_every_writers_file(
    files: dict[str, tuple[Path, str]], writer: str
) -> None:
    path, codec = files[writer]
    code, output = run("inspect", str(path), "--json")
    assert code == 0, output
    summary = json.loads(output)
    assert summary["rows"] == 50_000
    assert summary["compression"] == codec
    assert summary["format"] == ("stream" if writer == "stream" else "file")
    assert summary["stored_bytes"] == path.stat().st_size
    # Uncompressed size: 8 + 8 bytes per row plus the labels' offsets and characters.
    assert summary["raw_bytes"] >= 50_000 * (8 + 8 + 4 + 1)
    assert [c["name"] for c in summary["schema"]] == ["id", "value", "label"]
    assert summary["writer"] == (
        "dagster-fastio " + _core.__version__ if writer == "ours" else None
    )
    if writer == "ours":
        assert summary["batches"] == 5


def test_inspect_table_output_names_the_facts(files: dict[str, tuple[Path, str]]) -> None:
    code, output = run("inspect", str(files["ours"][0]))
    assert code == 0
    for word in ("rows", "50000", "zstd", "schema", "label", "double"):
        assert word in output


def test_inspect_pickle_names_the_type_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "model.pickle.zst"
    payload = pickle.dumps({"weights": list(range(1000))}, protocol=5)
    _core.write_zstd_file(str(path), payload)
    code, output = run("inspect", str(path), "--json")
    assert code == 0, output
    summary = json.loads(output)
    assert summary["kind"] == "pickle"
    assert summary["python_type"] == "builtins.dict"
    assert summary["pickled_bytes"] == len(payload)
    assert summary["stored_bytes"] == path.stat().st_size

    class_path = tmp_path / "frac.pickle.zst"
    from fractions import Fraction

    _core.write_zstd_file(str(class_path), pickle.dumps(Fraction(1, 3), protocol=5))
    summary = json.loads(run("inspect", str(class_path), "--json")[1])
    assert summary["python_type"] == "fractions.Fraction"


def test_inspect_of_damaged_or_missing_files_fails_cleanly(tmp_path: Path) -> None:
    damaged = tmp_path / "bad.arrow"
    damaged.write_bytes(b"ARROW1" + b"\0" * 100)
    code, output = run("inspect", str(damaged))
    assert code == 1 and "CorruptFileError" in output
    code, output = run("inspect", str(tmp_path / "absent.arrow"))
    assert code == 1 and "FileNotFoundError" in output


@pytest.mark.parametrize("writer", ["ours", "pyarrow", "stream", "polars"])
def test_head_shows_the_first_rows(files: dict[str, tuple[Path, str]], writer: str) -> None:
    code, output = run("head", str(files[writer][0]), "-n", "3", "--columns", "id,label", "--json")
    assert code == 0, output
    rows = [json.loads(line) for line in output.splitlines()]
    expected = sample().select(["id", "label"]).slice(0, 3).to_pylist()
    assert rows == expected


def test_head_across_batches_and_past_the_end(files: dict[str, tuple[Path, str]]) -> None:
    path = str(files["ours"][0])  # batches of 10,000 rows
    code, output = run("head", path, "-n", "10005", "--json", "--columns", "id")
    assert [json.loads(line)["id"] for line in output.splitlines()] == list(range(10_005))
    code, output = run("head", path, "-n", "100000", "--json", "--columns", "id")
    assert len(output.splitlines()) == 50_000
    code, output = run("head", path, "--columns", "nope")
    assert code == 1 and "no column named" in output


def test_head_table_output(files: dict[str, tuple[Path, str]]) -> None:
    code, output = run("head", str(files["ours"][0]), "-n", "2")
    assert code == 0
    assert "label" in output and "int64" in output


@pytest.mark.parametrize("compression", ["zstd", "lz4", "none"])
def test_convert_between_compressions(
    files: dict[str, tuple[Path, str]], tmp_path: Path, compression: str
) -> None:
    dst = tmp_path / f"out-{compression}.arrow"
    code, output = run("convert", str(files["pyarrow"][0]), str(dst), "--compression", compression)
    assert code == 0, output
    assert fio.read(dst).equals(sample())
    summary = json.loads(run("inspect", str(dst), "--json")[1])
    assert summary["compression"] == compression


def test_convert_imports_csv_parquet_and_feather(tmp_path: Path) -> None:
    table = sample(20_000)
    csv_path = tmp_path / "in.csv"
    pacsv.write_csv(table, csv_path)
    parquet_path = tmp_path / "in.parquet"
    pq.write_table(table, parquet_path, row_group_size=3_000)
    feather_path = tmp_path / "in.feather"
    feather.write_feather(table, feather_path)
    for source in (csv_path, parquet_path, feather_path):
        dst = tmp_path / f"{source.name}.arrow"
        code, output = run("convert", str(source), str(dst), "--level", "3", "--quiet")
        assert code == 0, output
        back = fio.read(dst)
        if source is csv_path:
            # CSV carries no types: labels that are digits come back as integers.
            back = back.cast(
                pa.schema([("id", pa.int64()), ("value", pa.float64()), ("label", pa.string())])
            )
        assert back.equals(table), source.name


def test_convert_to_and_from_a_store(
    s3s_server: S3Server, s3s_bucket: str, files: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    options = [f"-o{k}={v}" for k, v in s3s_server.options().items()]
    uri = f"s3://{s3s_bucket}/converted.arrow"
    code, output = run("convert", str(files["polars"][0]), uri, "--compression", "lz4", *options)
    assert code == 0, output
    summary = json.loads(run("inspect", uri, "--json", *options)[1])
    assert (summary["rows"], summary["compression"]) == (50_000, "lz4")
    code, output = run("head", uri, "-n", "2", "--json", *options)
    assert [json.loads(line)["id"] for line in output.splitlines()] == [0, 1]
    back = tmp_path / "back.arrow"
    assert run("convert", uri, str(back), *options)[0] == 0
    # polars wrote the labels as string_view; the values are the same.
    assert fio.read(back).cast(sample().schema).equals(sample())


def test_an_interrupted_convert_leaves_no_destination(tmp_path: Path) -> None:
    # A CSV whose last line does not parse: the conversion fails after writing batches.
    good = "\n".join(f"{i},{i * 0.5}" for i in range(200_000))
    source = tmp_path / "broken.csv"
    source.write_text("id,value\n" + good + "\nnot-a-number,x\n")
    dst = tmp_path / "out.arrow"
    code, output = run("convert", str(source), str(dst), "--quiet")
    assert code == 1
    assert "ArrowInvalid" in output
    assert not dst.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["broken.csv"]


def test_bad_arguments_exit_with_code_2(tmp_path: Path) -> None:
    assert run("convert", "a.arrow", "b.arrow", "--compression", "brotli")[0] == 2
    assert run("head", "a.arrow", "-n", "-1")[0] == 2
    assert run("inspect", "a.arrow", "-o", "no-equals-sign")[0] == 2


def test_the_console_script_is_installed(files: dict[str, tuple[Path, str]]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dagster_fastio.cli", "inspect", str(files["ours"][0]), "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == 50_000


def test_head_on_a_store_downloads_only_the_first_batches(
    s3s_server: S3Server, s3s_bucket: str
) -> None:
    from servers import FaultProxy

    uri = f"s3://{s3s_bucket}/wide.arrow"
    table = sample(2_000_000)  # about 46 MB uncompressed: several 8 MiB requests
    fio.write(table, uri, compression="none", storage_options=s3s_server.options())
    proxy = FaultProxy(s3s_server.port).start()
    try:
        options = [f"-o{k}={v}" for k, v in s3s_server.options(endpoint=proxy.endpoint).items()]
        code, output = run("head", uri, "-n", "3", "--json", *options)
    finally:
        proxy.stop()
    assert code == 0, output
    assert [json.loads(line)["id"] for line in output.splitlines()] == [0, 1, 2]
    gets = [r for r in proxy.requests if r.method == "GET"]
    # The footer, then the first group of batches: not the whole file.
    assert len(gets) == 2, [r.headers.get("range") for r in gets]


def test_inputs_python_cannot_hold_end_in_one_line_not_a_traceback(tmp_path: Path) -> None:
    # Regression: a NUL in a field name and an unknown time zone printed tracebacks.
    nul = tmp_path / "nul.arrow"
    feather.write_feather(pa.table({"a\0b": [1, 2]}), nul)
    for command in ("inspect", "head"):
        code, output = run(command, str(nul))
        assert code == 1 and "CorruptFileError" in output and "Null byte" in output
    zone = tmp_path / "zone.arrow"
    feather.write_feather(
        pa.table({"ts": pa.array([1, 2], pa.timestamp("us", tz="No/Zone"))}), zone
    )
    code, output = run("inspect", str(zone))
    assert code == 0 and "timestamp" in output
    code, output = run("head", str(zone), "--json")
    assert code == 0
    rows = [json.loads(line) for line in output.splitlines()]
    assert [row["ts"].split()[0] for row in rows] == ["1", "2"]
    assert "No/Zone" in rows[0]["ts"]
