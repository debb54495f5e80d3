"""The one way an engine event becomes words: the CLI, the `_deploy.log` file and the
console all say the same thing about the same event (each picks which events it shows).

    event_words(event) -> (host, words) | None   host is "" for the run's own events
    event_text(event)  -> "[host] words" | "words" | None
"""

from __future__ import annotations

from deploytui.engine.events import (
    DeployFinished,
    DeployStarted,
    Event,
    HealthChecked,
    HostFailed,
    HostLine,
    HostLines,
    HostStepDone,
    HostStepStarted,
    LogFollow,
    PhaseFinished,
    PhaseStarted,
    Switched,
    SwitchedBack,
)


def event_words(event: Event) -> tuple[str, str] | None:
    """(host, one line) for an event; host is "" when it is about the whole run."""
    match event:
        case DeployStarted():
            sha = f" ({event.sha[:12]})" if event.sha else ""
            rel = f" as release {event.release_id}" if event.release_id else ""
            return "", (f"{event.operation} {event.project}/{event.environment}: {event.ref}"
                        f"{sha}{rel} to {len(event.hosts)} host(s) [{event.strategy}]"
                        f" by {event.user}"
                        + (f", leaving out {', '.join(event.excluded)} (they keep what they"
                           " serve)" if event.excluded else ""))
        case PhaseStarted():
            return "", f"== {event.phase} =="
        case PhaseFinished():
            return "", f"== {event.phase} {'ok' if event.ok else 'FAILED'} =="
        case HostLine():
            return event.host, event.line
        case HostStepStarted():
            return event.host, f"$ {event.step}"
        case HostStepDone():
            return event.host, f"done in {event.duration:.1f}s (exit {event.exit_code})"
        case HostFailed():
            return event.host, f"FAILED in {event.phase} at {event.step}: {event.reason}"
        case Switched():
            return event.host, (f"current -> {event.release_id}"
                                f" (was {event.previous or 'none'})")
        case SwitchedBack():
            return event.host, f"switched back to {event.release_id or 'nothing'}"
        case HealthChecked():
            verdict = "healthy" if event.healthy else "UNHEALTHY"
            return event.host, f"health {event.role}: {verdict}: {event.check} -> {event.saw}"
        case LogFollow():
            return (event.host, event.text) if event.text else None
        case DeployFinished():
            extra = f": {event.error}" if event.error else ""
            return "", f"{event.operation} {event.outcome} in {event.duration:.1f}s{extra}"
    return None


def event_text(event: Event) -> str | None:
    """The event as printed text, `[host] ...` for a host's events (a batch of lines: one
    `[host] line` per line, joined by newlines); None: no words."""
    if isinstance(event, HostLines):
        prefix = f"[{event.host}] "
        return prefix + ("\n" + prefix).join(event.lines) if event.lines else None
    words = event_words(event)
    if words is None:
        return None
    host, text = words
    return f"[{host}] {text}" if host else text
