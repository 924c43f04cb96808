"""`fastio plan`: the models' arithmetic (checked against hand-computed figures), the JSON keys,
storage held, the network answer, the price presets, the decision lines, and the handling of
nonsense input. The models against fresh-process measurements: tests/test_planning_measured.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from dagster_fastio.cli import main
from dagster_fastio.cli.planning import (
    ASSUMED_FIGURES,
    FRAMES,
    METHODS,
    PRICES_AS_OF,
    PROVIDERS,
    PlanInputs,
    parse_hours,
    parse_rate_mb_s,
    parse_size_mb,
    plan,
    prices_for,
)


def figures(frame_mb: float, stored_mb: float, write_peak: float, load_peak: float) -> dict:
    return {
        "frame_mb": frame_mb,
        "stored_mb": stored_mb,
        "write_s": frame_mb / 500,
        "load_s": frame_mb / 1000,
        "write_peak_mb": write_peak,
        "load_peak_mb": load_peak,
        "baseline_mb": 200.0,
    }


# A profile with round numbers: every method measured on a 100 MB frame.
MEASURED = {
    method: {frame: figures(100.0, stored, write, load) for frame in FRAMES}
    for method, stored, write, load in (
        ("pickle", 100.0, 160.0, 130.0),
        ("ipc-lz4", 40.0, 30.0, 125.0),
        ("ipc-zstd", 20.0, 30.0, 125.0),
        ("parquet-zstd", 10.0, 40.0, 150.0),
    )
}


def run(*args: str) -> tuple[int, str]:
    # Wide enough that rich does not wrap the table's labels.
    result = CliRunner(env={"COLUMNS": "200"}).invoke(main, list(args))
    return result.exit_code, result.output


def plan_json(*args: str) -> dict:
    code, output = run("plan", *args, "--json")
    assert code == 0, output
    return json.loads(output)


def by_method(result: dict) -> dict[str, dict]:
    return {m["method"]: m for m in result["methods"]}


def test_memory_model_by_hand() -> None:
    from dagster_fastio.cli.planning.profiles import ASSUMED_FIXED_MB

    inputs = PlanInputs(size_mb=400, parallel=3, memory_mb=10_000, headroom=0.25)
    result = plan(inputs, MEASURED)
    for method in result.methods:
        for frame in FRAMES:
            write_fixed, load_fixed = ASSUMED_FIXED_MB[method.method][frame]
            measured = MEASURED[method.method][frame]
            # The fixed part stays; the rest scales with the frame (100 MB -> 400 MB).
            write = write_fixed + max(measured["write_peak_mb"] - write_fixed, 0) * 4
            if method.method != "pickle":  # a streamed write stops growing with the frame
                assumed = ASSUMED_FIGURES[method.method][frame]["write_peak_mb"]
                write = min(write, max(measured["write_peak_mb"], assumed))
            load = load_fixed + max(measured["load_peak_mb"] - load_fixed, 0) * 4
            step = 200 + max(load, 2 * 400 + write)
            assert method.peak_memory_write_mb[frame] == pytest.approx(write)
            assert method.peak_memory_load_mb[frame] == pytest.approx(load)
            assert method.peak_memory_step_mb[frame] == pytest.approx(step)
            assert method.peak_memory_parallel_mb[frame] == pytest.approx(3 * step * 1.25)
            assert method.recommended_concurrency[frame] == math.floor(10_000 / (step * 1.25))
        assert method.source == "measured"


def test_json_keys_per_frame_library() -> None:
    result = plan_json("--size", "447MB", "--parallel", "2")
    assert set(result) >= {"methods", "network", "decision", "prices", "assumptions"}
    for method in result["methods"]:
        for key in (
            "peak_memory_write_mb",
            "peak_memory_load_mb",
            "peak_memory_parallel_mb",
            "storage_held_mb",
        ):
            assert key in method
        for key in ("peak_memory_write_mb", "peak_memory_load_mb", "peak_memory_parallel_mb"):
            assert set(method[key]) == set(FRAMES)
    assert [m["method"] for m in result["methods"]] == list(METHODS)
    assert {m["source"] for m in result["methods"]} == {"assumed"}
    assert result["profile"].startswith("assumed")


def test_assumed_load_peak_of_flights_x8_is_the_measured_one() -> None:
    """The acceptance figure: the plan's pandas load peak for flights x8 (a 447 MB frame)
    within 25% of the fresh-process measurement behind the assumed profile."""
    result = by_method(plan_json("--size", "447MB"))
    for method in METHODS:
        measured = ASSUMED_FIGURES[method]["pandas"]
        predicted = result[method]["peak_memory_load_mb"]["pandas"]
        scaled = measured["load_peak_mb"] * 447 / measured["frame_mb"]
        assert predicted == pytest.approx(scaled, rel=0.25), method


def test_pickle_peaks_follow_the_store() -> None:
    from dagster_fastio.cli.planning.profiles import ASSUMED_STORE_FIGURES

    local = by_method(plan_json("--size", "447MB"))["pickle"]
    remote = by_method(plan_json("--size", "447MB", "--multi-node"))["pickle"]
    assert remote["label"] == "pickle (S3PickleIOManager)"
    for frame in FRAMES:
        measured = ASSUMED_STORE_FIGURES["pickle"][frame]
        scaled = measured["load_peak_mb"] * 447 / measured["frame_mb"]
        assert remote["peak_memory_load_mb"][frame] == pytest.approx(scaled, rel=0.25)
        # S3PickleIOManager holds the downloaded bytes beside the frame: more than the local one.
        assert remote["peak_memory_load_mb"][frame] > local["peak_memory_load_mb"][frame]
        assert remote["peak_memory_write_mb"][frame] > local["peak_memory_write_mb"][frame]


def test_unpartitioned_asset_holds_one_copy() -> None:
    for per_day, retention in (("24", "30"), ("1", "365"), ("96", "7")):
        result = plan_json("--size", "1GB", "--per-day", per_day, "--retention-days", retention)
        for method in result["methods"]:
            assert method["storage_held_mb"] == pytest.approx(method["stored_mb"])


def test_partitions_accumulate_up_to_the_retention() -> None:
    result = plan_json(
        "--size", "1GB", "--per-day", "24", "--retention-days", "30", "--partitioned"
    )
    prices = result["prices"]
    for method in result["methods"]:
        held = method["stored_mb"] * 24 * 30
        assert method["storage_held_mb"] == pytest.approx(held)
        assert method["storage_usd_month"] == pytest.approx(
            held / 1000 * prices["storage_usd_gb_month"]
        )


def test_appends_grow_an_unpartitioned_asset() -> None:
    result = plan_json("--size", "1GB", "--append-per-day", "100MB", "--retention-days", "10")
    for method in result["methods"]:
        grown = method["stored_mb"] + 100 / method["ratio"] * 10
        assert method["storage_held_mb"] == pytest.approx(grown)


def test_73_gb_a_day_in_a_4_hour_window() -> None:
    network = plan_json("--daily-volume", "73GB", "--window", "4h", "--bandwidth", "50Mbit")[
        "network"
    ]
    payload = 73_000 / (4 * 3600)
    assert network["payload_mb_s"] == pytest.approx(payload)
    assert network["link_mbit_s"] == pytest.approx(payload * 1.05 * 1.10 * 1.5 * 8)
    assert round(network["link_mbit_s"]) == 70
    assert network["fits"] is False
    code, output = run("plan", "--daily-volume", "73GB", "--window", "4h")
    assert code == 0
    for named in ("protocol overhead 5%", "retries 10%", "headroom 50%", "70 Mbit/s"):
        assert named in " ".join(output.split()), named


def test_per_method_link_counts_stored_bytes_and_loads() -> None:
    result = plan_json("--daily-volume", "10GB", "--window", "10h", "--reads", "2")
    for method in result["methods"]:
        moved = 10_000 / method["ratio"] * 3
        expected = moved / 36_000 * 1.05 * 1.10 * 1.5 * 8
        assert method["link_mbit_s_needed"] == pytest.approx(expected)


def test_price_presets_are_dated_and_labelled() -> None:
    for provider in PROVIDERS:
        prices = prices_for(provider)
        assert prices.as_of == PRICES_AS_OF
        assert "check your contract" in prices.label
        assert prices.egress_usd_gb("none") == 0
        assert prices.egress_usd_gb("internet") > prices.egress_usd_gb("region") > 0
    assert (
        prices_for("aws", "standard-ia").storage_usd_gb_month
        < prices_for("aws").storage_usd_gb_month
    )
    result = plan_json("--provider", "gcp", "--storage-class", "nearline", "--partitioned")
    assert result["prices"]["storage_class"] == "nearline"
    assert "check your contract" in result["prices"]["label"]
    assert any("check your contract" in line for line in result["assumptions"])


def test_egress_only_where_data_leaves_the_region() -> None:
    inside = by_method(plan_json("--size", "1GB", "--per-day", "10"))
    internet = by_method(plan_json("--size", "1GB", "--per-day", "10", "--egress", "internet"))
    price = prices_for("aws").egress_internet_usd_gb
    for method in METHODS:
        assert inside[method]["transfer_usd_month"] == 0
        loads_gb = internet[method]["stored_mb"] / 1000 * 10 * 30
        assert internet[method]["transfer_usd_month"] == pytest.approx(loads_gb * price)


@pytest.mark.parametrize(
    ("args", "method", "words"),
    [
        (["--size", "2MB"], "pickle", "fixed costs"),
        (["--size", "2GB"], "reference", "StoredTable, DuckDB relation"),
        (["--size", "500MB", "--memory", "2GB"], "reference", "fit"),
        (["--size", "200MB"], "ipc-lz4", "one node"),
        (["--size", "200MB", "--multi-node", "--bandwidth", "1Gbit"], "ipc-zstd", "link"),
        (["--size", "200MB", "--partitioned", "--per-day", "1"], "parquet-zstd", "Parquet"),
    ],
)
def test_decision_lines(args: list[str], method: str, words: str) -> None:
    result = plan_json(*args, "--memory", "24GB") if "--memory" not in args else plan_json(*args)
    assert result["decision"]["method"] == method
    assert words in result["decision"]["reason"]
    assert "\n" not in result["decision"]["reason"]


def test_printed_plan_names_the_source_and_the_recommendation() -> None:
    code, output = run("plan", "--size", "500MB")
    assert code == 0, output
    flat = " ".join(output.split())
    assert "(assumed)" in output and "Recommendation" in output
    assert "pandas: load peak" in flat and "polars: load peak" in flat
    assert "check your contract" in flat


def test_plan_from_a_saved_profile(tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"kind": "fresh-process", "data": "mine", "methods": MEASURED}))
    result = plan_json("--size", "100MB", "--profile", str(profile))
    assert {m["source"] for m in result["methods"]} == {"measured"}
    assert result["profile"].startswith("measured: mine")
    lz4 = by_method(result)["ipc-lz4"]
    assert lz4["stored_mb"] == pytest.approx(40)
    assert lz4["peak_memory_load_mb"]["pandas"] == pytest.approx(125)


def test_partial_profile_falls_back_and_says_so(tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    profile.write_text(
        json.dumps({"kind": "fresh-process", "methods": {"ipc-lz4": MEASURED["ipc-lz4"]}})
    )
    result = by_method(plan_json("--profile", str(profile)))
    assert result["ipc-lz4"]["source"] == "measured"
    assert result["pickle"]["source"] == "assumed"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"methods": {"pickle": {"write_mb_s": 1, "read_mb_s": 1, "ratio": 1}}}',
            "run `fastio bench` again",
        ),
        ('{"kind": "fresh-process", "methods": {"pickle": {"pandas": {}}}}', "missing"),
        ("[1, 2]", "run `fastio bench` again"),
    ],
)
def test_unusable_profile_is_a_usage_error(tmp_path: Path, content: str, message: str) -> None:
    profile = tmp_path / "profile.json"
    profile.write_text(content)
    code, output = run("plan", "--profile", str(profile))
    assert code == 2 and "not a profile" in output and message in " ".join(output.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "-5GB"], "not a size"),
        (["--size", "5XB"], "unknown size unit"),
        (["--size", "0"], "size mb must be positive"),
        (["--bandwidth", "fast"], "not a bandwidth"),
        (["--bandwidth", "10furlongs"], "unknown bandwidth unit"),
        (["--window", "soon"], "not a duration"),
        (["--window", "0h"], "must be positive"),
        (["--per-day", "-1"], "per-day"),
        (["--parallel", "0"], "parallel"),
        (["--provider", "ibm"], "provider"),
        (["--storage-class", "deep-freeze"], "unknown storage class"),
        (["--memory", "lots"], "not a size"),
    ],
)
def test_nonsense_plan_inputs_exit_with_code_2(args: list[str], message: str) -> None:
    code, output = run("plan", *args)
    assert code == 2, output
    assert message in output


def test_units() -> None:
    assert parse_size_mb("1.5GB") == 1500
    assert parse_size_mb("64MiB") == pytest.approx(67.108864)
    assert parse_size_mb("250") == 250
    assert parse_rate_mb_s("1Gbit") == 125
    assert parse_rate_mb_s("800Mbit/s") == 100
    assert parse_rate_mb_s("250MB/s") == 250
    assert parse_hours("4h") == 4
    assert parse_hours("90min") == 1.5
    assert parse_hours("1d") == 24
    assert parse_hours("2") == 2


def test_a_streamed_write_stops_growing_with_the_frame() -> None:
    small = by_method(plan_json("--size", "447MB"))
    large = by_method(plan_json("--size", "4GB"))
    for method in ("ipc-lz4", "ipc-zstd", "parquet-zstd"):
        for frame in FRAMES:
            peak = large[method]["peak_memory_write_mb"][frame]
            assert peak == pytest.approx(small[method]["peak_memory_write_mb"][frame], rel=0.05)
            assert peak < 0.05 * 4000
    # Pickle holds the whole pickle: its write peak grows with the frame.
    ratio = (
        large["pickle"]["peak_memory_write_mb"]["pandas"]
        / small["pickle"]["peak_memory_write_mb"]["pandas"]
    )
    assert ratio == pytest.approx(4000 / 447, rel=0.05)


def test_multi_node_pickle_uses_a_profile_measured_on_s3(tmp_path: Path) -> None:
    on_s3 = {
        method: {frame: {**row, "where": "store"} for frame, row in by_frame.items()}
        for method, by_frame in MEASURED.items()
    }
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"kind": "fresh-process", "methods": on_s3}))
    pickle = by_method(plan_json("--size", "100MB", "--multi-node", "--profile", str(profile)))[
        "pickle"
    ]
    assert pickle["source"] == "measured"
    assert pickle["peak_memory_load_mb"]["pandas"] == pytest.approx(130)
    # Measured on a local disk, the profile says nothing of S3: S3PickleIOManager's figure.
    profile.write_text(json.dumps({"kind": "fresh-process", "methods": MEASURED}))
    local = by_method(plan_json("--size", "100MB", "--multi-node", "--profile", str(profile)))
    assert local["pickle"]["peak_memory_load_mb"]["pandas"] != pytest.approx(130)


def test_given_prices_override_the_preset_and_say_so() -> None:
    assert PlanInputs.storage_price == prices_for("aws").storage_usd_gb_month
    assert PlanInputs.transfer_price == 0
    result = plan_json("--provider", "azure", "--storage-price", "0.05", "--egress", "internet")
    assert result["inputs"]["storage_price"] == 0.05
    assert result["inputs"]["transfer_price"] == prices_for("azure").egress_internet_usd_gb
    line = next(a for a in result["assumptions"] if "check your contract" in a)
    assert "$0.05 per GB-month as given" in line and "azure hot" in line
    for method in result["methods"]:
        assert method["storage_usd_month"] == pytest.approx(method["storage_held_mb"] / 1000 * 0.05)


def test_pickle_wins_on_one_node_where_the_profile_says_it_is_faster_and_no_bigger(
    tmp_path: Path,
) -> None:
    fast_pickle = {
        method: {
            frame: {**row, "write_s": 0.01, "load_s": 0.01} if method == "pickle" else row
            for frame, row in by_frame.items()
        }
        for method, by_frame in MEASURED.items()
    }
    # A step's peak is set by holding input and output while writing: with pickle's write as
    # small as IPC's, its step needs no more memory.
    for frame in FRAMES:
        fast_pickle["pickle"][frame]["write_peak_mb"] = 30.0
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"kind": "fresh-process", "methods": fast_pickle}))
    decision = plan_json("--size", "100MB", "--memory", "24GB", "--profile", str(profile))[
        "decision"
    ]
    assert decision["method"] == "pickle"
    assert "hands off faster" in decision["reason"]
    # Across nodes the bytes over the link decide: not pickle.
    decision = plan_json(
        "--size", "100MB", "--memory", "24GB", "--multi-node", "--profile", str(profile)
    )["decision"]
    assert decision["method"] != "pickle"
