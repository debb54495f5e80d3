"""Ctrl-C during an operation: a cancel the engine honours, not an exception that unwinds it.

A KeyboardInterrupt raised in the middle of the engine skips its rules: a rollback's
switch runs on every host or on none, and what it switched is recorded before the lock
is released; a deploy removes its unfinished release. So the engine runs in a worker
thread, and Ctrl-C only sets its cancel event; a second Ctrl-C exits at once (130) and
leaves the lock for `deploytui unlock`.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import TypeVar

from deploytui.commands import EXIT_CANCELLED
from deploytui.commands.printer import Printer

T = TypeVar("T")


def run_cancellable(work: Callable[[threading.Event], T], printer: Printer, *,
                    name: str, cancelling: str, locks: bool = True) -> T | None:
    """`work(cancel)` in a worker thread; Ctrl-C sets `cancel` and prints `cancelling`.

    Returns work's result (None if it ended without one); re-raises what it raised, in
    this thread, so callers handle a refusal as if they had called it themselves.
    """
    cancel = threading.Event()
    results: list[T] = []
    raised: list[BaseException] = []

    def target() -> None:
        try:
            results.append(work(cancel))
        except BaseException as exc:  # handed to the main thread below
            raised.append(exc)

    restore = _install_sigint(cancel, printer, cancelling, locks)
    try:
        worker = threading.Thread(target=target, name=name, daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
    finally:
        restore()
    if raised:
        raise raised[0]
    return results[0] if results else None


def _install_sigint(cancel: threading.Event, printer: Printer, cancelling: str,
                    locks: bool = True) -> Callable[[], None]:
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        if cancel.is_set():
            os._exit(EXIT_CANCELLED)  # second Ctrl-C: hard exit, no cleanup
        cancel.set()
        printer.write(f"cancelling: {cancelling} (Ctrl-C again exits at once"
                      + (" and leaves the lock for `deploytui unlock`)" if locks else ")"))

    previous = signal.signal(signal.SIGINT, handler)

    def restore() -> None:
        signal.signal(signal.SIGINT, previous)

    return restore
