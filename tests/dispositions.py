"""Signal dispositions of the processes the tests start.

A process inherits from its parent which signals it ignores, and an ignored signal stays
ignored across exec. A background job (`cmd &` in a script, cron, nohup, many CI runners) starts
with SIGINT ignored, some runners ignore SIGTERM too, and CPython installs its KeyboardInterrupt
handler only when SIGINT is not ignored at start. So a test that signals a child sets the
disposition it relies on in that child, and `launched_ignoring` starts a child the way a
background job would, to test exactly that.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

# Sets the dispositions named on its command line, then becomes the command that follows.
_LAUNCHER = """
import os, signal, sys
count = int(sys.argv[1])
for number in sys.argv[2 : 2 + count]:
    signal.signal(int(number), signal.SIG_IGN)
command = sys.argv[2 + count :]
os.execvp(command[0], command)
"""


def launched_ignoring(signals: Sequence[signal.Signals], command: Sequence[str]) -> list[str]:
    """`command`, started with `signals` ignored, as a background job would start it."""
    numbers = [str(int(sig)) for sig in signals]
    return [sys.executable, "-c", _LAUNCHER, str(len(numbers)), *numbers, *command]


# The first lines of a child script that relies on SIGINT raising KeyboardInterrupt in it.
EXPECT_KEYBOARD_INTERRUPT = (
    "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
)


def restore_default_dispositions() -> None:
    """SIGINT raises KeyboardInterrupt and SIGTERM ends the process, whatever was inherited:
    for worker processes the tests start, so that what they spawn (Dagster's compute-log
    `tail`, step processes) can be stopped as Dagster stops it."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
