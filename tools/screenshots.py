"""Screenshots of what a Dagster user sees of FastIOManager's output metadata.

Materializes the example definitions (python/dagster_fastio/examples) with FastIOManager into
a temporary Dagster instance, several times over so the metadata plots have points, starts
`dagster dev` on that instance and photographs, in headless Chromium, an asset's overview, its
metadata table and plots, and one materialization's event. `make screenshots` runs it; it
needs Chromium and its driver (Debian: `apt-get install chromium chromium-driver`) and the
`screenshots` extra (dagster-webserver, selenium).

This is a tool, not a benchmark or a test: nothing is measured or asserted, a person looks at
the pictures, so it lives in tools/ rather than benches/ or tests/.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFINITIONS = HERE / "screenshot_definitions.py"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# The page a user lands on from the asset catalog; flights is the largest example asset.
ASSET = "flights"
WINDOW = (1400, 1000)
# A section is photographed whole only if it fits in the window: the plots need about 1,700 px.
TALL_WINDOW = (1400, 2600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "screenshots")
    parser.add_argument(
        "--rounds", type=int, default=6, help="materializations of the unpartitioned assets"
    )
    parser.add_argument("--asset", default=ASSET)
    parser.add_argument("--chromium", default=CHROMIUM)
    parser.add_argument("--chromedriver", default=CHROMEDRIVER)
    args = parser.parse_args(argv)
    for tool in (args.chromium, args.chromedriver):
        if not Path(tool).is_file():
            sys.exit(f"{tool} not found: apt-get install chromium chromium-driver")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fastio-screenshots-") as scratch:
        home, store = Path(scratch) / "dagster_home", Path(scratch) / "store"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "FASTIO_SCREENSHOT_BASE": str(store),
            # selenium would otherwise report usage statistics over the network.
            "SE_AVOID_STATS": "true",
        }
        os.environ.update(env)
        materialize(store, args.rounds)
        with dagster_dev(env) as url:
            written = photograph(url, args)
    for path in written:
        print(f"{path}  {path.stat().st_size / 1000:.0f} KB")
    return 0


def materialize(store: Path, rounds: int) -> None:
    """Every example asset once, then the unpartitioned ones ``rounds - 1`` more times."""
    import dagster as dg

    from dagster_fastio import FastIOManager
    from dagster_fastio.examples.definitions import ALL_ASSETS, UNPARTITIONED, materialize_all

    instance = dg.DagsterInstance.get()  # the one DAGSTER_HOME names, which dagster dev opens
    io_manager = FastIOManager(base_path=str(store))
    print("materializing the example assets ...", flush=True)
    materialize_all(io_manager, instance=instance, log_level="WARNING")
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    for _ in range(rounds - 1):
        result = dg.materialize(
            ALL_ASSETS,
            selection=UNPARTITIONED,
            resources={"io_manager": io_manager},
            instance=instance,
            run_config=quiet,
        )
        if not result.success:
            raise RuntimeError("materializing the unpartitioned example assets failed")


@contextlib.contextmanager
def dagster_dev(env: dict[str, str], definitions: Path = DEFINITIONS) -> Iterator[str]:
    """`dagster dev` on ``definitions`` (the examples'), on a free loopback port, until the
    end."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "dagster", "dev", "-f", str(definitions)]
    command += ["-h", "127.0.0.1", "-p", str(port)]
    log = open(Path(env["DAGSTER_HOME"]) / "dagster_dev.log", "w")  # noqa: SIM115
    # Its own process group: dagster dev starts the webserver, a daemon and a code server,
    # and all of them must end with it.
    process = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                log.flush()
                raise RuntimeError(
                    "dagster dev exited:\n" + Path(log.name).read_text(errors="replace")[-3000:]
                )
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/server_info", timeout=2),
            ):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("dagster dev did not answer within 180 s")
            time.sleep(1)
        yield url
    finally:
        # SIGINT is how dagster dev is meant to be stopped (it stops its children first). A
        # shell that started this script in the background may have it ignored, and
        # dagster dev ignores SIGTERM: then the group is killed.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print("dagster dev ignored SIGINT: killing it", file=sys.stderr)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()


def photograph(url: str, args: argparse.Namespace) -> list[Path]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    driver = webdriver.Chrome(service=Service(args.chromedriver), options=options)
    wait = WebDriverWait(driver, 60)
    written: list[Path] = []

    def shoot(name: str, element: object | None = None) -> None:
        path = args.out / f"{name}.png"
        time.sleep(1.5)  # fonts and chart animations settle
        if element is None:
            driver.save_screenshot(str(path))
        else:
            element.screenshot(str(path))  # type: ignore[attr-defined]
        written.append(path)

    def open_page(path: str, ready_text: str) -> None:
        driver.get(url + path)
        wait.until(ec.presence_of_element_located((By.XPATH, f"//*[text()='{ready_text}']")))
        # The first visit greets with a community sign-up dialog.
        for button in driver.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
            button.click()

    def metadata_section() -> object:
        # The innermost block holding both the section's title and its Table/Plots switch.
        return driver.find_element(
            By.XPATH,
            "(//div[.//*[normalize-space(text())='Metadata'] and "
            ".//button[normalize-space()='Plots'] and .//button[normalize-space()='Table']])"
            "[last()]",
        )

    try:
        asset = args.asset
        open_page(f"/assets/{asset}?view=events", "stored_bytes")
        shoot("asset_event")
        open_page(f"/assets/{asset}", "stored_bytes")
        shoot("asset_overview")
        driver.set_window_size(*TALL_WINDOW)
        section = metadata_section()
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", section)
        shoot("asset_metadata", section)
        driver.find_element(By.XPATH, "//button[normalize-space()='Plots']").click()
        wait.until(ec.presence_of_element_located((By.XPATH, "//canvas | //*[name()='svg']//*")))
        shoot("asset_plots", metadata_section())
        # A partition's output and a pickled one.
        for other in ("daily_flights", "route_counts"):
            open_page(f"/assets/{other}", "stored_bytes")
            section = metadata_section()
            driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", section)
            shoot(f"{other}_metadata", section)
    finally:
        driver.quit()
    return written


if __name__ == "__main__":
    sys.exit(main())
