"""The one engine operation the console runs at a time, in a plain thread owned by the App.

A thread on the App (not a Screen worker) survives screen changes (notes §0.7). The
engine reports to the App's LogBuffer plus the journal/notify sinks; when the thread
ends, the App is told on its own thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.message import Message

from deploytui.engine.events import Sink


class OperationEnded(Message):
    """Posted (never awaited) when the operation's thread ends: the app may be gone."""

    def __init__(self, error: str | None) -> None:
        super().__init__()
        self.error = error


class Runner:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.thread: threading.Thread | None = None
        self.cancel_event = threading.Event()
        self.result: Any = None
        self._resolver: Any = None

    @property
    def resolver(self) -> Any:
        """One resolver per console session: a secret typed once is not asked again."""
        if self._resolver is None:
            from deploytui.config.secrets import SecretResolver

            self._resolver = SecretResolver(interactive=True, prompt=self._prompt_secret)
        return self._resolver

    def _prompt_secret(self, name: str) -> str:
        """Called on the operation's thread: show a modal and wait for the answer."""
        from deploytui.tui.screens.modals import SecretPromptModal

        answer: list[str | None] = []
        done = threading.Event()

        def show() -> None:
            def chosen(value: str | None) -> None:
                answer.append(value)
                done.set()

            self.app.push_screen(SecretPromptModal(name), chosen)

        self.app.call_from_thread(show)
        while not done.wait(0.2):
            if self.cancel_event.is_set() or not self.app.is_running:
                raise EOFError(name)
        if not answer[0]:
            raise EOFError(name)
        return answer[0]

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def cancel(self) -> None:
        self.cancel_event.set()

    def start_deploy(self, request: Any) -> None:
        from deploytui.engine.operations.deploy import run_deploy

        def call(sink: Sink, cancel: threading.Event) -> Any:
            return run_deploy(self.app.config, request, sink=sink, cancel=cancel,
                              resolver=self.resolver)

        self._start("deploy", request.project.name, request.environment.name, call)

    def start_rollback(self, project: str, environment: str, release: str | None) -> None:
        from deploytui.engine.operations.rollback import run_rollback

        def call(sink: Sink, cancel: threading.Event) -> Any:
            return run_rollback(self.app.config, project, environment, to=release,
                                sink=sink, cancel=cancel, resolver=self.resolver)

        self._start("rollback", project, environment, call)

    def start_catch_up(self, project: str, environment: str, hosts: list[str]) -> None:
        from deploytui.engine.operations.catch_up import run_catch_up

        def call(sink: Sink, cancel: threading.Event) -> Any:
            result = run_catch_up(self.app.config, project, environment, hosts, sink=sink,
                                  cancel=cancel, resolver=self.resolver)
            if not result.ok:
                raise RuntimeError(result.error)
            return result

        self._start("catch-up", project, environment, call)

    def _start(self, operation: str, project: str, environment: str,
               call: Callable[[Sink, threading.Event], Any]) -> None:
        if self.running:
            raise RuntimeError("an operation is already running")
        self.cancel_event = threading.Event()
        self.result = None
        self.app.buffer.reset()
        self.thread = threading.Thread(
            target=self._run, args=(operation, project, environment, call),
            name=f"deploytui-{operation}", daemon=True)
        self.thread.start()

    def _run(self, operation: str, project: str, environment: str,
             call: Callable[[Sink, threading.Event], Any]) -> None:
        error: str | None = None
        close: Callable[[], None] = lambda: None  # noqa: E731
        sink: Sink = self.app.buffer
        try:
            try:
                from deploytui.commands.sinks import build_sinks

                # Not the session resolver: a missing webhook secret disables that webhook
                # with a warning, it never stops a deploy to ask. Events reach these sinks
                # already redacted by the engine, which uses the session resolver.
                sink, close = build_sinks(self.app.config, project=project,
                                          environment=environment, operation=operation,
                                          printer=self.app.buffer)
            except Exception as exc:  # journal/notify trouble must not stop a deploy
                error = f"journal/notify unavailable: {_one_line(exc)}"
            self.result = call(sink, self.cancel_event)
        except Exception as exc:
            error = f"{operation} failed: {_one_line(exc)}"
        finally:
            try:
                close()
            except Exception as exc:
                error = error or f"journal: {_one_line(exc)}"
        # post, not call_from_thread: that would wait forever on an app that has exited
        self.app.post_message(OperationEnded(error))

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
