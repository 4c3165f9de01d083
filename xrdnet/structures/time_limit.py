"""A CPU-time limit on one block of code: ``_time_limit`` raises ``AttemptTimeout`` in it (SIGPROF).

It guards each pyxtal attempt of ``xrdnet.structures.synthetic`` and the spglib labelling of
``xrdnet.structures.jsonl`` against a long tail. CPU seconds (``ITIMER_PROF``) rather than
wall-clock keep the outcome independent of how loaded the machine is.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class AttemptTimeout(Exception):
    """Raised inside an attempt by SIGPROF when it uses more than ``time_limit_s`` of CPU time."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise AttemptTimeout


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[bool]:
    """Raise ``AttemptTimeout`` in the body after ``seconds``; yields whether the limit is active.

    The timer re-fires every 50 ms after the deadline: pyxtal has bare ``except:`` clauses that can
    swallow one exception, and a repeating alarm makes sure the attempt still ends. Without
    SIGPROF (Windows) or off the main thread there is no limit, and the body runs to completion.
    CPU time (``ITIMER_PROF``, user + system) rather than wall-clock keeps the outcome independent of
    how loaded the machine is, which is what keeps generation deterministic.
    """
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = signal.signal(signal.SIGPROF, _on_alarm)
    signal.setitimer(signal.ITIMER_PROF, seconds, 0.05)
    try:
        yield True
    finally:
        # An alarm already due can still interrupt this clean-up; retry until the timer is off,
        # or a repeating timer would go on raising in the caller's code.
        while True:
            try:
                signal.setitimer(signal.ITIMER_PROF, 0)
                signal.signal(signal.SIGPROF, previous)
                break
            except AttemptTimeout:
                continue
