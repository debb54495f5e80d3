"""Garbage collection paused while start-up builds objects that live for good.

Start-up allocates tens of thousands of objects that all stay alive (a 2,000-host
config's YAML tree and model; the console's widgets, styles and first render). Every
few hundred allocations CPython runs a collection, and the older generations' ones scan
everything already alive while freeing nothing: measured 20-30 ms of loading a
2,000-host config and as much again before the console's first frame. Nothing built
then is cyclic garbage worth finding early, so collection waits, and resumes right
after, never outliving the pause's owner.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


class GCPause:
    """A pause begun and ended by different callbacks (the console's load and first
    frame). Ending twice, or ending a pause that found collection already off, is a
    no-op: only the pause that turned collection off turns it back on."""

    def __init__(self) -> None:
        self._paused = False

    def begin(self) -> None:
        if not self._paused and gc.isenabled():
            gc.disable()
            self._paused = True

    def end(self) -> None:
        if self._paused:
            self._paused = False
            gc.enable()


@contextmanager
def gc_paused() -> Iterator[None]:
    """No collection inside the block (a bounded burst of long-lived allocations)."""
    pause = GCPause()
    pause.begin()
    try:
        yield
    finally:
        pause.end()
