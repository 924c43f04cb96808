"""The pictures of the README's "Planning and monitoring": Dagster's UI plotting a
``dagster_fastio/`` key on an asset's Plots tab, photographed in a real browser, and
``fastio report``'s chart and text output on the same instance.

Materializes ``screenshot_ui_definitions.py`` (flights, a new sample each run; an asset that
loads it; a partitioned one) into a temporary Dagster instance, runs ``fastio report`` on it,
starts ``dagster dev`` (127.0.0.1, a free port) and photographs the plot in headless Chromium
driven by selenium through Debian's ``chromedriver``. ``make screenshot-ui`` installs what it
needs (``apt-get install chromium chromium-driver``; dagster-webserver and selenium from pip)
and runs it. A documentation tool: nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from screenshots import CHROMEDRIVER, CHROMIUM, dagster_dev

HERE = Path(__file__).resolve().parent
DEFINITIONS = HERE / "screenshot_ui_definitions.py"
DOCS = HERE.parent / "docs"
PLOTTED_KEY = "dagster_fastio/write_mb_per_s"
WINDOW = (1400, 2400)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DOCS)
    parser.add_argument("--rounds", type=int, default=8, help="runs of flights and its reader")
    parser.add_argument("--key", default=PLOTTED_KEY, help="the metadata key to photograph")
    parser.add_argument("--chromium", default=CHROMIUM)
    parser.add_argument("--chromedriver", default=CHROMEDRIVER)
    args = parser.parse_args(argv)
    for tool in (args.chromium, args.chromedriver):
        if not Path(tool).is_file():
            sys.exit(f"{tool} not found: apt-get install chromium chromium-driver")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fastio-screenshot-ui-") as scratch:
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
        materialize(args.rounds)
        report(home, args.out)
        with dagster_dev(env, DEFINITIONS) as url:
            shot = photograph(url, args)
    for path in (shot, args.out / "report_chart.png", args.out / "report_sample.txt"):
        print(f"{path}  {path.stat().st_size / 1000:.0f} KB")
    return 0


def materialize(rounds: int) -> None:
    import dagster as dg

    sys.path.insert(0, str(HERE))
    import screenshot_ui_definitions as defs

    instance = dg.DagsterInstance.get()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    resources = {"io_manager": defs.defs.resources["io_manager"]}
    everything = [defs.flights, defs.carrier_delays, defs.origin_flights]
    print(f"materializing flights and carrier_delays {rounds} times ...", flush=True)
    for _ in range(rounds):
        result = dg.materialize(
            everything,
            selection=[defs.flights, defs.carrier_delays],
            resources=resources,
            instance=instance,
            run_config=quiet,
        )
        if not result.success:
            raise RuntimeError("materializing flights failed")
    for origin in defs.ORIGINS.get_partition_keys():
        result = dg.materialize(
            everything,
            selection=[defs.origin_flights],
            partition_key=origin,
            resources=resources,
            instance=instance,
            run_config=quiet,
        )
        if not result.success:
            raise RuntimeError(f"materializing origin_flights {origin} failed")


def report(home: Path, out: Path) -> None:
    """`fastio report` on the instance: its chart, and its text as a pipe receives it."""
    command = [sys.executable, "-m", "dagster_fastio.cli", "report", "--instance", str(home)]
    command += ["--since", "1d", "--chart", os.path.relpath(out / "report_chart.png")]
    text = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    (out / "report_sample.txt").write_text(text)


def photograph(url: str, args: argparse.Namespace) -> Path:
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
    # Twice the pixels: one plot card is small, and the README shows it alone.
    options.add_argument("--force-device-scale-factor=2")
    driver = webdriver.Chrome(service=Service(args.chromedriver), options=options)
    wait = WebDriverWait(driver, 60)
    path = args.out / f"ui_plot_{args.key.rsplit('/', 1)[-1]}.png"
    try:
        driver.get(f"{url}/assets/flights")
        wait.until(ec.presence_of_element_located((By.XPATH, "//*[text()='stored_bytes']")))
        for button in driver.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
            button.click()
        driver.find_element(By.XPATH, "//button[normalize-space()='Plots']").click()
        title = f"//*[normalize-space(text())='{args.key}']"
        wait.until(ec.presence_of_element_located((By.XPATH, title)))
        # The plot's card: the innermost block holding the key's title and a chart.
        card = driver.find_element(
            By.XPATH,
            f"({title}/ancestor::div[.//canvas or .//*[name()='svg']])[last()]",
        )
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", card)
        time.sleep(2)  # the chart's animation settles
        card.screenshot(str(path))
    except Exception:
        (args.out / "screenshot_ui_page.html").write_text(driver.page_source)
        driver.save_screenshot(str(args.out / "screenshot_ui_failed.png"))
        raise
    finally:
        driver.quit()
    return path


if __name__ == "__main__":
    sys.exit(main())
