"""The helpers that make the signal tests independent of how pytest was started."""

from __future__ import annotations

import signal
import subprocess
import sys

from dispositions import EXPECT_KEYBOARD_INTERRUPT, launched_ignoring

_REPORT = "import signal; print([signal.getsignal(s) is signal.SIG_IGN for s in (2, 15)])"


def test_a_launched_child_ignores_what_a_background_job_ignores() -> None:
    # The "background" cases of the Ctrl-C tests stand for a background job only if the child
    # really starts with SIGINT ignored, after its exec.
    command = launched_ignoring([signal.SIGINT, signal.SIGTERM], [sys.executable, "-c", _REPORT])
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[True, True]"


def test_the_preamble_restores_keyboard_interrupt_in_a_child_that_ignored_sigint() -> None:
    script = EXPECT_KEYBOARD_INTERRUPT + (
        "import os, time\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(5)\n"
        "    print('not interrupted')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    command = launched_ignoring([signal.SIGINT], [sys.executable, "-c", script])
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "interrupted"
