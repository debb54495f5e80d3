"""The one operation that changes servers the console runs at a time, in a plain thread
owned by the App.

A thread on the App (not a Screen worker) survives screen changes (docs/console.md,
rule 5). Every operation — deploy, rollback, prune, delete — goes through here, so each
reports to the console's LogBuffer and to the same journal/notify sinks the CLI uses.
When the thread ends, the App is told with an OperationEnded message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.app import App

from deploytui.config.model import Config
from deploytui.engine.errors import one_line
from deploytui.engine.events import Sink
from deploytui.tui.log_buffer import LogBuffer
from deploytui.tui.messages import OperationEnded

if TYPE_CHECKING:
    from deploytui.config.secrets import SecretResolver
    from deploytui.engine import Request


class Runner:
    def __init__(self, app: App[int], config: Config, buffer: LogBuffer) -> None:
        self.app = app
        self.config = config
        self.buffer = buffer
        self.thread: threading.Thread | None = None
        self.cancel_event = threading.Event()
        self.result: object = None
        self.operation: Request | None = None
        self._resolver: SecretResolver | None = None

    @property
    def resolver(self) -> SecretResolver:  # imported lazily: keyring is slow to import
        """One resolver per console session: a secret typed once is not asked again."""
        if self._resolver is None:
            from deploytui.config.secrets import resolver_for

            self._resolver = resolver_for(self.config, interactive=True,
                                          prompt=self._prompt_secret)
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

    def start(self, op: Request, *,
              call: Callable[[Sink, threading.Event], object] | None = None) -> None:
        """Run `op` in the operation thread. `call(sink, cancel)` replaces the engine call
        (benchmarks drive the console's real pipeline with synthetic events)."""
        if self.running:
            raise RuntimeError("an operation is already running")
        self.cancel_event = threading.Event()
        self.result = None
        self.operation = op
        if self._resolver is not None:  # vault values are asked again for each operation
            self._resolver.forget_vault_values()
        self.buffer.reset()
        self.thread = threading.Thread(target=self._run, args=(op, call),
                                       name=f"deploytui-{op.verb}", daemon=True)
        self.thread.start()

    def _run(self, op: Request,
             call: Callable[[Sink, threading.Event], object] | None) -> None:
        error: str | None = None
        close: Callable[[], None] = lambda: None  # noqa: E731
        sink: Sink = self.buffer
        project, environment = op.target
        try:
            try:
                from deploytui.commands.sinks import build_sinks

                # Not the session resolver: a missing webhook secret disables that webhook
                # with a warning, it never stops a deploy to ask. Events reach these sinks
                # already redacted by the engine, which uses the session resolver.
                sink, close = build_sinks(self.config, project=project,
                                          environment=environment, operation=op.verb,
                                          printer=self.buffer,
                                          notify=getattr(op, "notifies", True))
            except Exception as exc:  # journal/notify trouble must not stop a deploy
                error = f"journal/notify unavailable: {one_line(exc)}"
            if call is not None:
                self.result = call(sink, self.cancel_event)
            else:
                from deploytui.engine import run_operation

                self.result = run_operation(self.config, op, sink=sink,
                                            cancel=self.cancel_event, resolver=self.resolver)
        except Exception as exc:
            error = f"{op.verb} failed: {one_line(exc)}"
        finally:
            try:
                close()
            except Exception as exc:
                error = error or f"journal: {one_line(exc)}"
        # post, not call_from_thread: that would wait forever on an app that has exited
        self.app.post_message(OperationEnded(op, self.result, error))

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)
