"""`python -m dagster_fastio.cli`: the `fastio` command."""

import sys

from dagster_fastio.cli import main

sys.exit(main())
