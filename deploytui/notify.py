"""Chat/webhook notifications: the team hears about every deploy, without slowing it.

Events sent (docs/notifications.md):
  start     a deploy or a catch-up begins (rollbacks and prunes send no start message);
  success   a deploy or a catch-up succeeded (hosts left out with --exclude named);
  failure   a deploy or a rollback failed or was cancelled (`outcome` tells which);
  rollback  a rollback succeeded.
Prunes send nothing. A deploy's `start` waits for its Shipping event (the hosts locked,
the commits since their release known) so it can list what ships; a deploy stopped
before that sends its start just before its failure. Each target has its own daemon
thread and queue; a webhook (or a `command:` target) that fails or hangs produces one
warning line (the URL reduced to scheme://host/…, never its token) and never fails the
deploy. `close()` waits at most `wait` seconds in total. Bodies: notify_formats.py.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from deploytui.config.model import NotifyTarget
from deploytui.engine.events import (
    DeployFinished,
    DeployStarted,
    Event,
    HostFailed,
    Shipping,
)
from deploytui.notify_formats import payload

Warn = Callable[[str], None]
Resolve = Callable[[Any], str | None]


def safe_url(url: str) -> str:
    """scheme://host/… : enough to know which hook, never its path or token."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme or '?'}://{host}{port}/…"


def event_name(operation: str, finished: DeployFinished | None) -> str | None:
    """Which notification a start (finished=None) or a finish is, or None for none."""
    if operation == "prune":
        return None
    if finished is None:
        return "start" if operation in ("deploy", "catch-up") else None
    if finished.outcome == "unchanged":  # nothing was deployed: nothing to tell
        return None
    if finished.outcome == "success":
        return "rollback" if operation == "rollback" else "success"
    return "failure"  # an automatic rollback too: the deploy failed its health checks


def summary(m: dict[str, Any]) -> str:
    text = _summary(m)
    if m.get("forced"):
        text += f" [override: {', '.join(m['forced'])}]"
    if m.get("freeze"):
        text += f" [during freeze: {m['freeze']}]"
    return text


def _summary(m: dict[str, Any]) -> str:
    target = f"{m['project']}/{m['environment']}"
    ref = f" {m['ref']}" if m["ref"] else ""
    sha = f" ({m['sha'][:8]})" if m["sha"] else ""
    left = m.get("excluded") or []
    behind = (f"; left out: {', '.join(left)} (still on the earlier release, behind until"
              " `deploytui catch-up`)" if left else "")
    if m["operation"] == "catch-up" and m["event"] in ("start", "success"):
        verb = "is catching up" if m["event"] == "start" else "caught up"
        return (f"{m['user']} {verb} {', '.join(m['hosts'])} on {target} to release"
                f" {m['release']}{sha}")
    if m["event"] == "start":
        return f"{m['user']} is deploying {target}{ref}{sha}{behind}"
    if m["event"] == "success":
        return f"{m['user']} deployed {target}{ref}{sha} in {m['duration']:.0f}s{behind}"
    if m["event"] == "rollback":
        return f"{m['user']} rolled {target} back to {m['release']}"
    if m["outcome"] == "rolled_back":
        return (f"{m['operation']} of {target}{ref}{sha} by {m['user']} was rolled back: "
                f"{m['error']}")
    where = f" on {m['failed_host']} at {m['failed_step']}" if m["failed_host"] else ""
    return f"{m['operation']} of {target}{ref}{sha} by {m['user']} {m['outcome']}{where}"


def changes(shipped: Shipping | None) -> dict[str, Any] | None:
    """The json message's `changes` object (docs/notifications.md), None until known."""
    if shipped is None:
        return None
    commits = [{"sha": c.sha, "subject": c.subject, "author": c.author}
               for c in shipped.commits]
    return {"from": shipped.previous_sha or None, "to": shipped.sha,
            "direction": shipped.direction, "commits": commits, "total": shipped.total,
            "more": max(0, shipped.total - len(commits)),
            "compare_url": shipped.compare_url or None}


class _Worker:
    """One target: a daemon thread posting queued bodies with the target's timeout (or
    giving them to its local command on stdin)."""

    def __init__(self, target: NotifyTarget, url: str, warn: Warn) -> None:
        self.target, self.url, self.warn = target, url, warn
        self.name = (f"notify command `{(target.command or '').split()[0]}`"
                     if target.command else f"webhook {safe_url(url)}")
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, name="deploytui-notify", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (body := self.queue.get()) is not None:
            if self.target.command:
                self._command(self.target.command, body)
            else:
                self._post(body)

    def _command(self, command: str, body: dict[str, Any]) -> None:
        """The event JSON on stdin, DEPLOYTUI_EVENT in its environment; its output is its
        own business, a failure is one warning naming only the program (arguments may
        carry tokens)."""
        env = {**os.environ, "DEPLOYTUI_EVENT": str(body.get("event", ""))}
        try:
            done = subprocess.run(["/bin/sh", "-c", command], input=json.dumps(body).encode(),
                                  capture_output=True, env=env, timeout=self.target.timeout,
                                  start_new_session=True)
        except subprocess.TimeoutExpired:
            self.warn(f"{self.name} did not finish in {self.target.timeout:g}s")
            return
        except OSError as exc:
            self.warn(f"{self.name} could not run: {exc.strerror or exc}")
            return
        if done.returncode != 0:
            said = done.stderr.decode("utf-8", "replace").strip().splitlines()
            tail = f": {' '.join(said[-1].split())[:160]}" if said else ""
            self.warn(f"{self.name} failed (exit {done.returncode}){tail}")
            return
        self.sent += 1

    def _post(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        request = urllib.request.Request(self.url, data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.target.timeout) as resp:
                resp.read(1024)
            self.sent += 1
        except urllib.error.HTTPError as exc:
            self.warn(f"webhook {safe_url(self.url)} answered HTTP {exc.code}")
        except Exception as exc:  # refused, timed out, DNS: never the deploy's problem
            reason = getattr(exc, "reason", None) or exc
            text = " ".join(str(reason).split()).replace(self.url, safe_url(self.url))
            self.warn(f"webhook {safe_url(self.url)} failed: {text[:120]}")


class Notifier:
    """A Sink: turns DeployStarted/DeployFinished into webhook messages."""

    def __init__(self, targets: Iterable[NotifyTarget], *, resolve: Resolve,
                 warn: Warn, operation: str) -> None:
        self.operation = operation
        self._warn = warn
        self._workers: list[_Worker] = []
        self._started: DeployStarted | None = None
        self._shipping: Shipping | None = None
        self._start_due = False  # a start message waits for what ships
        self._failures: list[HostFailed] = []
        self._lock = threading.Lock()
        for target in targets:
            if target.command:
                self._workers.append(_Worker(target, "", warn))
                continue
            try:
                url = resolve(target.url)
            except Exception as exc:  # SecretUnavailable: one line, no value
                warn(f"webhook disabled: {exc}")
                continue
            if url:
                self._workers.append(_Worker(target, url, warn))

    def __call__(self, event: Event) -> None:
        if not self._workers:
            return
        if isinstance(event, DeployStarted):
            with self._lock:
                self._started = event
                self._start_due = event_name(event.operation, None) == "start"
        elif isinstance(event, Shipping):
            with self._lock:
                self._shipping = event
            self._send_start()
        elif isinstance(event, HostFailed):
            with self._lock:
                self._failures.append(event)
        elif isinstance(event, DeployFinished):
            self._send_start()
            self._send(event_name(event.operation, event), event)

    def _send_start(self) -> None:
        with self._lock:
            due, self._start_due = self._start_due, False
        if due:
            self._send("start", None)

    def message(self, name: str, finished: DeployFinished | None) -> dict[str, Any]:
        """The flat json message (documented in docs/notifications.md)."""
        with self._lock:
            s, failures, shipped = self._started, list(self._failures), self._shipping
        host = step = ""
        if failures:
            host, step = failures[0].host, failures[0].step
        elif finished and finished.failed_hosts:
            host, why = next(iter(finished.failed_hosts.items()))
            step = why.partition(": ")[0]
        return {
            "event": name,
            "operation": finished.operation if finished else (s.operation if s else ""),
            "outcome": finished.outcome if finished else "running",
            "project": s.project if s else "", "environment": s.environment if s else "",
            "user": s.user if s else "", "ref": s.ref if s else "", "sha": s.sha if s else "",
            "release": (finished.release_id if finished and finished.release_id
                        else (s.release_id if s else "")),
            "duration": round(finished.duration, 3) if finished else None,
            "hosts": list(s.hosts) if s else [],
            "excluded": list(s.excluded) if s else [],
            "failed_host": host, "failed_step": step,
            "error": finished.error if finished else "",
            "forced": list(finished.forced) if finished else [],  # break-lock, force-freeze
            "freeze": finished.freeze if finished else "",  # the freeze in force, if any
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "changes": changes(shipped),
        }

    def _send(self, name: str | None, finished: DeployFinished | None) -> None:
        if name is None:
            return
        message = self.message(name, finished)
        text = summary(message)
        for worker in self._workers:
            if name in worker.target.on:
                fmt = "json" if worker.target.command else worker.target.format
                worker.queue.put(payload(fmt, message, text))

    def close(self, wait: float = 1.0) -> None:
        """Let queued messages go out, waiting at most `wait` seconds for all targets."""
        deadline = time.monotonic() + wait
        self._send_start()  # a run that ended without a finish still said it started
        for worker in self._workers:
            worker.queue.put(None)
        for worker in self._workers:
            worker.thread.join(max(0.0, deadline - time.monotonic()))
            if worker.thread.is_alive():
                self._warn(f"{worker.name} did not answer in time; "
                           "its message may be lost")
