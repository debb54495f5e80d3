"""Secrets never leave the process: every text an event carries is scrubbed on the way out.

Redaction works on complete lines (the transports deliver whole lines, in batches), so
a secret split across network chunks is still caught. Values shorter than MIN_SECRET_LEN
characters are not redacted: replacing "ab" everywhere would shred every line, and
such a value protects nothing anyway. A multi-line secret is also redacted line by line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Protocol

from deploytui.engine.events import (
    DeployFinished,
    Event,
    HostFailed,
    HostLine,
    HostLines,
    HostStepDone,
    HostStepStarted,
    Sink,
)

MASK = "****"
MIN_SECRET_LEN = 4


class KnowsSecrets(Protocol):
    def known_values(self) -> list[str]: ...


def _patterns(secrets: Iterable[str]) -> list[str]:
    found: set[str] = set()
    for value in secrets:
        if not value:
            continue
        for part in (value, *value.splitlines()):
            part = part.strip("\r\n")
            if len(part) >= MIN_SECRET_LEN:
                found.add(part)
    return sorted(found, key=len, reverse=True)  # longest first: no partial leftovers


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value replaced by ****."""
    return _apply(text, _patterns(secrets))


def _apply(text: str, patterns: list[str]) -> str:
    for value in patterns:
        if value in text:
            text = text.replace(value, MASK)
    return text


class _Redactor:
    """Caches the sorted pattern list until the resolver learns a new secret."""

    def __init__(self, resolver: KnowsSecrets) -> None:
        self._resolver = resolver
        self._seen: list[str] | None = None
        self._patterns: list[str] = []

    def patterns(self) -> list[str]:
        current = self._resolver.known_values()
        if current != self._seen:
            self._seen, self._patterns = current, _patterns(current)
        return self._patterns

    def event(self, event: Event) -> Event:
        pats = self.patterns()
        if not pats:
            return event
        if isinstance(event, HostLines):  # the flood path: one scan of the batch if clean
            joined = "\n".join(event.lines)
            if not any(value in joined for value in pats):
                return event
            return dataclasses.replace(event, lines=tuple(_apply(ln, pats)
                                                          for ln in event.lines))
        if isinstance(event, HostLine):  # no closure, no copy if clean
            line = _apply(event.line, pats)
            return event if line == event.line else dataclasses.replace(event, line=line)
        def r(text: str) -> str:
            return _apply(text, pats)
        if isinstance(event, HostFailed):
            return dataclasses.replace(event, reason=r(event.reason), step=r(event.step))
        if isinstance(event, HostStepStarted | HostStepDone):
            return dataclasses.replace(event, step=r(event.step))
        if isinstance(event, DeployFinished):
            return dataclasses.replace(
                event, error=r(event.error),
                failed_hosts={h: r(v) for h, v in event.failed_hosts.items()})
        return event


def redacting_sink(sink: Sink, resolver: KnowsSecrets) -> Sink:
    """A sink that scrubs every known secret from an event before `sink` sees it."""
    redactor = _Redactor(resolver)

    def send(event: Event) -> None:
        sink(redactor.event(event))

    return send
