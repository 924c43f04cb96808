"""The planner's memory model against fresh-process measurements: `fastio bench` runs each
write and load in a new process, and the plan made from one size predicts the peak a load adds
at another, within 25% (a relation with a tolerance, never a timed assertion)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from dagster_fastio.cli import main, measure
from dagster_fastio.cli.bench import generated_table
from dagster_fastio.cli.planning import PlanInputs, plan

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="peak memory is read from /proc (Linux)"
)

TOLERANCE = 0.25
# Extrapolating a small generated table's profile four times over: the plan overestimated the
# IPC lz4 loads by 17% to 29% over three runs (its fixed part comes from flights), pickle's
# within 2%.
FOUR_TIMES_TOLERANCE = 0.35


def run(*args: str) -> tuple[int, str]:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(main, list(args))
    return result.exit_code, result.output


def cases(table: pa.Table, methods: tuple[str, ...], rounds: int = 1) -> list[measure.MethodResult]:
    """Each method's write and load of `table` as pandas and polars, each in a fresh process
    (medians over `rounds`)."""
    return measure.run(table, rounds=rounds, methods=methods, frames=("pandas", "polars"))


def loads(table: pa.Table, methods: tuple[str, ...]) -> dict[tuple[str, str], dict]:
    return {(r.method, r.frame): r.row for r in cases(table, methods)}


def test_bench_reports_per_process_figures_and_saves_a_profile(tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    code, output = run(
        "bench",
        "--generate",
        "--size",
        "8MB",
        "--rounds",
        "2",
        "--method",
        "pickle",
        "--method",
        "ipc-lz4",
        "--frame",
        "pandas",
        "--profile",
        str(profile),
        "--json",
    )
    assert code == 0, output
    result = json.loads(output)
    rows = {row["method"]: row for row in result["rows"]}
    assert set(rows) == {"pickle", "ipc-lz4"}
    for row in rows.values():
        assert row["frame"] == "pandas" and row["rounds"] == 2
        assert row["write_s_min"] <= row["write_s"] <= row["write_s_max"]
        assert row["load_s_min"] <= row["load_s"] <= row["load_s_max"]
        # A load builds the frame, so it adds at least most of it to the peak.
        assert row["load_peak_mb"] > 0.5 * row["frame_mb"]
        assert row["baseline_mb"] > 50  # the step process has imported Dagster and pandas
    assert rows["ipc-lz4"]["ratio"] > rows["pickle"]["ratio"]
    assert result["versions"]["pyarrow"] == pa.__version__
    code, output = run("plan", "--profile", str(profile), "--json")
    assert code == 0, output
    sources = {m["method"]: m["source"] for m in json.loads(output)["methods"]}
    assert sources == {
        "pickle": "measured",
        "ipc-lz4": "measured",
        "ipc-zstd": "assumed",
        "parquet-zstd": "assumed",
    }
    code, output = run(
        "bench", "--generate", "--quick", "--method", "ipc-zstd", "--frame", "polars", "--no-save"
    )
    assert code == 0, output
    assert "fresh process" in " ".join(output.split())


def test_a_profile_measured_at_one_size_predicts_the_load_peak_at_four_times_it(
    tmp_path: Path,
) -> None:
    methods = ("pickle", "ipc-lz4")
    # The profile's error is multiplied by four at the larger size: it is the median of three
    # rounds, at a size where a few MB of allocator jitter are a small part of the peak.
    measured = measure.load_profile_content(
        measure.profile(cases(generated_table(30), methods, rounds=3), "generated, 30 MB")
    )
    large = loads(generated_table(120), methods)
    for (method, frame), row in large.items():
        inputs = PlanInputs(size_mb=row["frame_mb"], frame=frame)
        predicted = plan(inputs, measured).method(method).peak_memory_load_mb[frame]
        assert predicted == pytest.approx(row["load_peak_mb"], rel=FOUR_TIMES_TOLERANCE), (
            method,
            frame,
        )


def test_the_assumed_profile_predicts_a_flights_load_at_a_size_it_was_not_fitted_to() -> None:
    from dagster_fastio.examples.flights import load_flights

    flights = load_flights()
    x3 = pa.concat_tables([flights] * 3).combine_chunks()
    for (method, frame), row in loads(x3, ("pickle", "ipc-lz4")).items():
        result = plan(PlanInputs(size_mb=row["frame_mb"], frame=frame))
        predicted = result.method(method).peak_memory_load_mb[frame]
        assert result.method(method).source == "assumed"
        assert predicted == pytest.approx(row["load_peak_mb"], rel=TOLERANCE), (method, frame)


def test_bench_on_s3_measures_s3_pickle_and_leaves_nothing(s3s_server, s3s_bucket: str) -> None:  # type: ignore[no-untyped-def]
    options = [f"{key}={value}" for key, value in s3s_server.options(aws_allow_http="true").items()]
    code, output = run(
        "bench",
        "--generate",
        "--size",
        "5MB",
        "--rounds",
        "1",
        "--method",
        "pickle",
        "--method",
        "ipc-zstd",
        "--frame",
        "pandas",
        "--store",
        f"s3://{s3s_bucket}/bench",
        *[part for option in options for part in ("-o", option)],
        "--no-save",
        "--json",
    )
    assert code == 0, output
    assert s3s_server.secret_key not in output
    rows = {row["method"]: row for row in json.loads(output)["rows"]}
    # Pickle goes through S3PickleIOManager on s3://: the whole pickle, as FilesystemIOManager's.
    assert rows["pickle"]["where"] == rows["ipc-zstd"]["where"] == "store"
    assert rows["pickle"]["stored_mb"] == pytest.approx(rows["pickle"]["frame_mb"], rel=0.2)
    assert rows["ipc-zstd"]["ratio"] > 2
    assert rows["pickle"]["load_peak_mb"] > rows["pickle"]["frame_mb"]
    assert s3s_server.keys(s3s_bucket) == []


def test_bench_refuses_a_store_that_does_not_outlive_a_process() -> None:
    code, output = run(
        "bench", "--generate", "--size", "1MB", "--store", "memory://bench", "--no-save"
    )
    assert code == 1
    assert "memory:// lives inside one process" in " ".join(output.split())


def test_a_failed_step_says_why_without_the_credentials(s3s_server, s3s_bucket: str) -> None:  # type: ignore[no-untyped-def]
    secret = "s3cr-not-the-key-0123456789"
    options = s3s_server.options(aws_allow_http="true", aws_secret_access_key=secret)
    code, output = run(
        "bench",
        "--generate",
        "--size",
        "1MB",
        "--rounds",
        "1",
        "--method",
        "ipc-zstd",
        "--frame",
        "polars",
        "--store",
        f"s3://{s3s_bucket}/bench",
        *[part for key, value in options.items() for part in ("-o", f"{key}={value}")],
        "--no-save",
    )
    assert code == 1
    flat = " ".join(output.split())
    assert "ipc-zstd polars write step failed" in flat
    assert secret not in output and "s3cr" not in output
