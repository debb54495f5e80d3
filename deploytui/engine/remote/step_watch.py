"""One thread watches every running script's step timeout and cancel, however many hosts.

A framed script (remote/script.py) must be stopped when the operation is cancelled or
when one of its steps runs past its timeout; the transport stops a command when the
event it was given is set. A watchdog thread per script cost one thread per host (200
at a 200-host deploy). Here one daemon thread serves them all, like the SSH liveness
watchdog (hosts/liveness.py): step deadlines sit in a heap, so a tick looks only at
the ones due; the callers' cancel events are polled once per tick each, however many
runs share one. The thread starts with the first watched run and exits after the last.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TICK = 0.1  # how late a cancel or a timeout may be noticed, as with a thread per script


@dataclass(eq=False)
class Watched:
    """One run: `stop` is the event its transport command watches."""

    cancel: threading.Event | None  # the caller's (often shared by every host)
    timeout: float | None  # per step
    still_running: Callable[[int], bool]  # is step i running (started, not done)?
    stop: threading.Event = field(default_factory=threading.Event)
    timed_out: bool = False


class StepWatch:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: set[Watched] = set()
        self._deadlines: list[tuple[float, int, Watched, int]] = []  # a heap
        self._order = itertools.count()  # ties in the heap never compare runs
        self._thread: threading.Thread | None = None

    def watch(self, cancel: threading.Event | None, timeout: float | None,
              still_running: Callable[[int], bool]) -> Watched:
        run = Watched(cancel, timeout, still_running)
        with self._lock:
            self._runs.add(run)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="script-watch",
                                                daemon=True)
                self._thread.start()
        return run

    def step_started(self, run: Watched, index: int, at: float) -> None:
        """Step `index` of `run` began at `at` (monotonic): it is due at + timeout."""
        if run.timeout is None:
            return
        with self._lock:
            if run in self._runs:
                heapq.heappush(self._deadlines,
                               (at + run.timeout, next(self._order), run, index))

    def unwatch(self, run: Watched) -> None:
        with self._lock:
            self._runs.discard(run)

    def threads(self) -> int:
        return 0 if self._thread is None else 1

    # ------------------------------------------------------------------ the thread
    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._runs:
                    self._thread = None
                    self._deadlines.clear()
                    return
                runs = set(self._runs)
                due = []
                now = time.monotonic()
                while self._deadlines and self._deadlines[0][0] <= now:
                    due.append(heapq.heappop(self._deadlines))
                wait = TICK if not self._deadlines else max(
                    0.0, min(TICK, self._deadlines[0][0] - now))
            seen: dict[int, bool] = {}  # each cancel event read once per tick
            for run in runs:  # cancel first: a run both cancelled and due was cancelled
                if run.cancel is not None:
                    key = id(run.cancel)
                    if key not in seen:
                        seen[key] = run.cancel.is_set()
                    if seen[key]:
                        run.stop.set()
            for _, _, run, index in due:
                if run in runs and not run.stop.is_set() and run.still_running(index):
                    run.timed_out = True  # before stop: whoever sees stop asks why
                    run.stop.set()
            time.sleep(wait)


_step_watch = StepWatch()


def step_watch() -> StepWatch:
    """The process's one step watch."""
    return _step_watch
