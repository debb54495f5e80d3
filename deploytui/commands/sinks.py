"""Everything that listens to one operation: printer, journal, notifier — behind redaction.

    sink, close = build_sinks(config, project=..., environment=..., operation="deploy",
                              printer=print_sink)
    try: run_deploy(..., sink=sink)
    finally: close()

The journal row is written here, before the operation starts. Redaction sits in
front of everything, so no listener ever sees a secret the resolver handed out.
The console calls this from a worker thread (it may resolve a webhook secret).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from deploytui.config.model import Config
from deploytui.config.secrets import SecretResolver, resolver_for
from deploytui.engine.events import Broadcast, HostLine, Sink
from deploytui.engine.redact import redacting_sink
from deploytui.history import Journal, JournalSink
from deploytui.notify import Notifier

NOTIFY_WAIT = 1.0  # seconds close() may wait for webhooks, in total


def build_sinks(
    config: Config,
    *,
    project: str,
    environment: str,
    operation: str,
    printer: Sink,
    resolver: SecretResolver | None = None,
    journal: Journal | None = None,
    notify: bool = True,
) -> tuple[Sink, Callable[[], None]]:
    """(sink for the engine, close) — call close() exactly once when the operation ended.

    `notify=False`: no webhooks (a `run` is no deploy news for the team's channel)."""
    resolver = resolver or resolver_for(config)
    journal_sink: JournalSink | None = None
    try:
        journal_sink = JournalSink(operation=operation, project=project,
                                   environment=environment, journal=journal,
                                   settings=config.history)
    except Exception as exc:  # a broken data dir must not stop a deploy; say it once
        print(f"deploytui: journal unavailable: {exc}", file=sys.stderr)

    listeners: list[Sink] = [printer]
    if journal_sink is not None:
        listeners.append(journal_sink)
    fanout = Broadcast(listeners)
    safe = redacting_sink(fanout, resolver)

    def warn(line: str) -> None:
        safe(HostLine(host="notify", line=line, stream="info"))

    notifier = Notifier(config.notify if notify else (), resolve=resolver.resolve,
                        warn=warn, operation=operation)
    fanout.add(notifier)

    def close() -> None:
        notifier.close(NOTIFY_WAIT)
        if journal_sink is not None:
            journal_sink.close()

    return safe, close
