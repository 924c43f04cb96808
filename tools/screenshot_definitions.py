"""The example definitions on FastIOManager, for `dagster dev` in tools/screenshots.py."""

import os

from dagster_fastio import FastIOManager
from dagster_fastio.examples.definitions import definitions

defs = definitions(FastIOManager(base_path=os.environ["FASTIO_SCREENSHOT_BASE"]))
