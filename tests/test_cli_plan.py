"""`fastio bench` and `fastio plan`: the measured profile, the planning arithmetic (checked
against hand-computed figures) and the handling of nonsense input."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dagster_fastio.cli import main
from dagster_fastio.planning import PlanInputs, parse_rate_mb_s, parse_size_mb, plan

PROFILE = {
    "pickle": {"write_mb_s": 500.0, "read_mb_s": 250.0, "ratio": 1.0},
    "fastio zstd": {"write_mb_s": 250.0, "read_mb_s": 500.0, "ratio": 5.0},
    "fastio lz4": {"write_mb_s": 1000.0, "read_mb_s": 1000.0, "ratio": 2.0},
}
INPUTS = PlanInputs(
    size_mb=1000,
    per_day=10,
    parallel=2,
    bandwidth_mb_s=100,
    retention_days=30,
    storage_price=0.02,
    transfer_price=0.01,
    step_seconds=100,
    reads=1,
    part_size_mb=16,
    max_concurrency=8,
)
# By hand: the link gives each of the 2 parallel steps 50 MB/s.
#   pickle: stored 1000 MB; 2 s to pickle + 20 s up + 20 s down + 4 s to unpickle = 46 s.
#   zstd:   stored 200 MB; max(4 s encode, 4 s up) + max(2 s decode, 4 s down) = 8 s.
#   lz4:    stored 500 MB; max(1, 10) + max(1, 10) = 20 s.
#   storage: stored GB * 10/day * 30 days * $0.02; transfer: GB * 2 moves * 300 * $0.01.
EXPECTED = {
    "pickle": {
        "stored_mb": 1000,
        "handoff_seconds": 46,
        "transfer_seconds": 40,
        "peak_memory_mb": 1000,
        "storage_usd_month": 6.0,
        "transfer_usd_month": 6.0,
    },
    "fastio zstd": {
        "stored_mb": 200,
        "handoff_seconds": 8,
        "transfer_seconds": 8,
        "peak_memory_mb": 16 * 10 + 8,
        "storage_usd_month": 1.2,
        "transfer_usd_month": 1.2,
    },
    "fastio lz4": {
        "stored_mb": 500,
        "handoff_seconds": 20,
        "transfer_seconds": 20,
        "peak_memory_mb": 168,
        "storage_usd_month": 3.0,
        "transfer_usd_month": 3.0,
    },
}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def check_against_hand_computed(methods: list[dict]) -> None:
    for method in methods:
        for key, value in EXPECTED[method["method"]].items():
            assert method[key] == pytest.approx(value), (method["method"], key)
        assert method["overhead_share"] == pytest.approx(
            EXPECTED[method["method"]]["handoff_seconds"] / 100
        )


def test_plan_arithmetic_matches_hand_computed_figures() -> None:
    result = plan(INPUTS, PROFILE)
    check_against_hand_computed([vars(m) for m in result.methods])
    assert all(m.source == "measured" for m in result.methods)
    assert result.recommendation == "fastio zstd"
    assert "5.8x faster than pickle" in result.reason
    assert result.notes == []


def test_lz4_is_recommended_when_the_link_is_not_the_limit() -> None:
    fast_link = PlanInputs(size_mb=1000, bandwidth_mb_s=10_000, parallel=1)
    result = plan(fast_link, PROFILE)
    # zstd: max(4, 0.02) + max(2, 0.02) = 6 s; lz4: 1 + 1 = 2 s.
    assert result.recommendation == "fastio lz4"
    assert "2.00 s against 6.00 s" in result.reason


def test_plan_from_a_saved_profile_through_the_command(tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"methods": PROFILE}))
    code, output = run(
        "plan",
        "--size",
        "1GB",
        "--per-day",
        "10",
        "--parallel",
        "2",
        "--bandwidth",
        "100MB/s",
        "--retention-days",
        "30",
        "--storage-price",
        "0.02",
        "--transfer-price",
        "0.01",
        "--step-seconds",
        "100",
        "--part-size-mb",
        "15.2587890625",
        "--profile",
        str(profile),
        "--json",
    )
    assert code == 0, output
    result = json.loads(output)
    check_against_hand_computed(result["methods"])
    assert {m["source"] for m in result["methods"]} == {"measured"}


def test_plan_says_which_figures_are_assumed() -> None:
    code, output = run("plan", "--size", "500MB", "--json")
    assert code == 0
    result = json.loads(output)
    assert {m["source"] for m in result["methods"]} == {"assumed"}
    assert "fastio bench" in result["notes"][0]
    code, output = run("plan", "--size", "500MB")
    assert "(assumed)" in output and "Recommendation" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "-5GB"], "not a size"),
        (["--size", "5XB"], "unknown size unit"),
        (["--size", "0"], "size mb must be positive"),
        (["--bandwidth", "fast"], "not a bandwidth"),
        (["--bandwidth", "10furlongs"], "unknown bandwidth unit"),
        (["--per-day", "-1"], "per-day"),
        (["--parallel", "0"], "parallel"),
    ],
)
def test_nonsense_plan_inputs_exit_with_code_2(args: list[str], message: str) -> None:
    code, output = run("plan", *args)
    assert code == 2, output
    assert message in output


def test_unusable_profile_is_a_usage_error(tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    profile.write_text('{"methods": {"pickle": {"write_mb_s": 1}}}')
    code, output = run("plan", "--profile", str(profile))
    assert code == 2 and "not a profile" in output


def test_units() -> None:
    assert parse_size_mb("1.5GB") == 1500
    assert parse_size_mb("64MiB") == pytest.approx(67.108864)
    assert parse_size_mb("250") == 250
    assert parse_rate_mb_s("1Gbit") == 125
    assert parse_rate_mb_s("800Mbit/s") == 100
    assert parse_rate_mb_s("250MB/s") == 250


def test_bench_quick_json_has_a_row_per_method_and_saves_a_profile(tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    code, output = run("bench", "--quick", "--json", "--profile", str(profile))
    assert code == 0, output
    result = json.loads(output)
    methods = [row["method"] for row in result["rows"]]
    assert methods == [
        "pickle",
        "fastio zstd",
        "fastio lz4",
        "fastio none",
        "pyarrow feather zstd",
        "pyarrow feather lz4",
        "parquet (snappy)",
    ]
    for row in result["rows"]:
        assert row["write_mb_s"] > 0 and row["read_mb_s"] > 0
        assert row["raw_bytes"] == pytest.approx(20e6, rel=0.01)
    by_method = {row["method"]: row for row in result["rows"]}
    assert by_method["fastio zstd"]["ratio"] > 2 > by_method["pickle"]["ratio"]
    code, output = run("plan", "--profile", str(profile), "--json")
    assert code == 0
    assert {m["source"] for m in json.loads(output)["methods"]} == {"measured"}


def test_bench_on_a_sample_and_a_store(tmp_path: Path) -> None:
    sample = tmp_path / "mine.parquet"
    pq.write_table(pa.table({"x": list(range(100_000)), "y": ["a", "b"] * 50_000}), sample)
    code, output = run(
        "bench",
        "--sample",
        str(sample),
        "--store",
        "memory://bench/run",
        "--rounds",
        "1",
        "--no-save",
        "--json",
    )
    assert code == 0, output
    rows = {row["method"]: row for row in json.loads(output)["rows"]}
    assert rows["fastio lz4"]["where"] == "store"
    assert rows["pickle"]["where"] == "local"
    assert json.loads(output)["data"] == str(sample)


def test_plan_measures_a_sample_first(tmp_path: Path) -> None:
    sample = tmp_path / "mine.arrow"
    table = pa.table({"x": list(range(200_000))})
    with pa.ipc.new_file(sample, table.schema) as writer:
        writer.write_table(table)
    code, output = run("plan", "--sample", str(sample), "--size", "2GB", "--json")
    assert code == 0, output
    assert {m["source"] for m in json.loads(output)["methods"]} == {"measured"}
