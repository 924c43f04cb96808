"""Compaction of appended keys (issue 25): loads racing a compaction see the parts or the
compacted part, never both or neither; the manager's compact_after_parts; `fastio compact`;
leftovers of a compaction that died; `fastio clean --parts-older-than`."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest
from click.testing import CliRunner
from servers import S3Server

from dagster_fastio import FastIOManager
from dagster_fastio.cli import main
from dagster_fastio.stored.appends import append_table, key_figures
from dagster_fastio.stored.compaction import WriteOptionsFor, compact, write_compacted
from dagster_fastio.stored.layout import Location
from dagster_fastio.stored.parts import key_parts, parts_folder
from dagster_fastio.stored.storage import Storage
from dagster_fastio.tables.handlers import table_type_of

ROWS = 2_000


def _storage(base: str, options: dict[str, str] | None = None) -> Storage:
    return Storage(Location.base(base), None, None, None, options, False, None)


def _append(storage: Storage, stem: Location, number: int, format: str = "ipc") -> None:
    table = pa.table({"id": range(number * ROWS, (number + 1) * ROWS)})
    append_table(storage, stem, table_type_of(table), table, None, format, {})


def _ids(storage: Storage, stem: Location) -> list[int]:
    return storage.load(stem, None, None).column("id").to_pylist()


@pytest.fixture(params=["local", "s3"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str] | None]:
    if request.param == "local":
        return str(tmp_path / "base"), None
    server: S3Server = request.getfixturevalue("s3s_server")
    bucket = request.getfixturevalue("s3s_bucket")
    return f"s3://{bucket}/base", server.options()


def test_loads_racing_compactions_see_one_whole_set_of_parts(
    where: tuple[str, dict[str, str] | None],
) -> None:
    base, options = where
    storage = _storage(base, options)
    stem = storage.base.stem(["events"])
    appended = 0
    for _ in range(12):
        _append(storage, stem, appended)
        appended += 1
    stop = threading.Event()
    seen: list[int] = []
    failures: list[BaseException] = []

    def reader() -> None:
        # Appends only add rows at the end: every consistent load is the first n batches.
        try:
            while not stop.is_set():
                ids = _ids(storage, stem)
                assert len(ids) % ROWS == 0, len(ids)
                assert ids == list(range(len(ids))), "a load saw parts twice or missed some"
                seen.append(len(ids) // ROWS)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(6):
            for _ in range(3):
                _append(storage, stem, appended)
                appended += 1
            done = compact(stem, WriteOptionsFor(), options)
            assert done.part is not None and done.rows == appended * ROWS
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    assert not failures, failures[0]
    assert len(seen) >= 2 and max(seen) <= appended
    assert _ids(storage, stem) == list(range(appended * ROWS))
    key = key_parts(parts_folder(stem), options)
    assert len(key.listed) == 1 and key.listed[0].compacted


def test_compaction_keeps_rows_order_and_the_keys_hash(tmp_path: Path) -> None:
    storage = _storage(str(tmp_path))
    stem = storage.base.stem(["events"])
    for number in range(5):
        _append(storage, stem, number, "parquet" if number % 2 else "ipc")
    before = key_figures(storage, stem)
    assert before.parts == 5 and before.rows == 5 * ROWS
    done = compact(stem, WriteOptionsFor(), None)
    assert done.replaced == 5 and done.rows == 5 * ROWS
    after = key_figures(storage, stem)
    assert after.parts == 1 and after.rows == before.rows
    assert after.content_hash == before.content_hash
    assert _ids(storage, stem) == list(range(5 * ROWS))
    # Appending after a compaction continues the same hash chain as appending before it.
    _append(storage, stem, 5)
    other = _storage(str(tmp_path / "other"))
    other_stem = other.base.stem(["events"])
    for number in range(6):
        _append(other, other_stem, number, "parquet" if number % 2 else "ipc")
    assert key_figures(storage, stem).content_hash == key_figures(other, other_stem).content_hash


def test_a_compaction_that_died_before_deleting_leaves_nothing_visible_twice(
    tmp_path: Path,
) -> None:
    storage = _storage(str(tmp_path))
    stem = storage.base.stem(["events"])
    for number in range(3):
        _append(storage, stem, number)
    key = key_parts(parts_folder(stem), None)
    # Step 2 of a compaction without step 3: the compacted part and the parts it holds.
    write_compacted(
        [p.uri for p in key.visible],
        key.folder,
        key.names,
        key.visible[-1].time_ns,
        WriteOptionsFor()("ipc"),
        None,
        time_ns=key.visible[0].time_ns,
    )
    again = key_parts(parts_folder(stem), None)
    assert len(again.listed) == 4 and len(again.visible) == 1 and len(again.superseded) == 3
    assert _ids(storage, stem) == list(range(3 * ROWS))
    # An append after it, then the superseded parts are what clean removes whatever their age.
    _append(storage, stem, 3)
    assert _ids(storage, stem) == list(range(4 * ROWS))
    result = CliRunner().invoke(
        main, ["clean", str(tmp_path), "--parts-older-than", "30d", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert sorted(row["reason"] for row in rows) == ["superseded"] * 3
    assert not any(row["removed"] for row in rows)
    result = CliRunner().invoke(
        main, ["clean", str(tmp_path), "--parts-older-than", "30d", "--apply"]
    )
    assert result.exit_code == 0 and "3 part(s) of 1 key(s) removed" in result.output
    assert len(key_parts(parts_folder(stem), None).listed) == 2
    assert _ids(storage, stem) == list(range(4 * ROWS))


def test_the_manager_compacts_past_compact_after_parts(tmp_path: Path) -> None:
    count = {"n": 0}

    @dg.asset(name="events")
    def events() -> pa.Table:
        count["n"] += 1
        return pa.table({"id": [count["n"]]})

    manager = FastIOManager(base_path=str(tmp_path), write_mode="append", compact_after_parts=3)
    parts = []
    for _ in range(6):
        result = dg.materialize([events], resources={"io_manager": manager})
        metadata = result.get_asset_materialization_events()[0].materialization.metadata
        parts.append(metadata["key_parts"].value)
        assert metadata["dagster/row_count"].value == count["n"]
    assert parts == [1, 2, 3, 1, 2, 3]
    storage = _storage(str(tmp_path))
    assert storage.load(storage.base.stem(["events"]), None, None).column("id").to_pylist() == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]


def test_cli_compact_and_clean_parts(where: tuple[str, dict[str, str] | None]) -> None:
    base, options = where
    storage = _storage(base, options)
    stem = storage.base.stem(["events"])
    store = [arg for key, value in (options or {}).items() for arg in ("-o", f"{key}={value}")]
    result = CliRunner().invoke(main, ["compact", stem.text, *store])
    assert result.exit_code == 1 and "no appended parts" in result.output
    for number in range(4):
        _append(storage, stem, number)
    result = CliRunner().invoke(main, ["compact", stem.text + ".parts", "--json", *store])
    assert result.exit_code == 0, result.output
    done: dict[str, Any] = json.loads(result.output)
    assert (
        done["replaced"] == 4
        and done["rows"] == 4 * ROWS
        and done["part"].endswith(".compacted.arrow")
    )
    assert _ids(storage, stem) == list(range(4 * ROWS))
    _append(storage, stem, 4)
    # Retention: nothing is an hour old; everything is at least 0 s old.
    result = CliRunner().invoke(main, ["clean", base, "--parts-older-than", "1h", *store])
    assert result.exit_code == 0 and "0 part(s)" in result.output
    result = CliRunner().invoke(main, ["clean", base, "--parts-older-than", "0s", *store])
    assert result.exit_code == 0, result.output
    assert "2 part(s) of 1 key(s) would be removed (dry run: add --apply)" in result.output
    assert result.output.count("would remove  older") == 2
    assert _ids(storage, stem) == list(range(5 * ROWS))
    result = CliRunner().invoke(
        main, ["clean", base, "--parts-older-than", "0s", "--apply", *store]
    )
    assert result.exit_code == 0 and "2 part(s) of 1 key(s) removed" in result.output
    assert key_parts(parts_folder(stem), options).listed == ()
    result = CliRunner().invoke(main, ["clean", base, "--parts-older-than", "soon"])
    assert result.exit_code == 2 and "--parts-older-than" in result.output


def test_two_compactions_of_the_same_parts_at_once_are_read_once(tmp_path: Path) -> None:
    storage = _storage(str(tmp_path))
    stem = storage.base.stem(["events"])
    for number in range(3):
        _append(storage, stem, number)
    key = key_parts(parts_folder(stem), None)
    options = WriteOptionsFor()("ipc")
    # Two compactions that listed the same parts, both past step 2.
    written = [
        write_compacted(
            [p.uri for p in key.visible],
            key.folder,
            key.names,
            0,
            options,
            None,
            time_ns=key.visible[0].time_ns,
            holds=[p.name for p in key.visible],
        )[0]
        for _ in range(2)
    ]
    _append(storage, stem, 3)
    resolved = key_parts(parts_folder(stem), None)
    assert [p.name for p in resolved.visible if p.compacted] == [min(p.name for p in written)]
    assert _ids(storage, stem) == list(range(4 * ROWS))
    # A third that also held the new part hides both (nested sets), then deletes them all.
    compact(stem, WriteOptionsFor(), None)
    assert _ids(storage, stem) == list(range(4 * ROWS))
    assert len(key_parts(parts_folder(stem), None).listed) == 1
