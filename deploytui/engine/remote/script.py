"""Several named steps run on a host as ONE remote command, still reported step by step.

Every remote command costs an SSH session, a login and a few processes on the host; a
deploy of 14 small commands per host was CPU-bound on them. So a host's consecutive
shell steps become one generated bash script: each step is `eval`ed in its own subshell
(as if it had its own command: `exit`, `set -e`, `cd` stay inside it), framed by marker
lines on stderr, and the script stops at the first step that fails. deploytui's own
steps (`inline`: they never `cd` or set options) skip the subshell, whose fork is the
dearest thing such a step costs the host; an `exit` in one still reports its step's
status, through the script's EXIT trap. The lines callback
turns markers into the usual events (HostStepStarted / HostStepDone / HostFailed, with
the step's name and exit code); markers never reach a sink. Each run's markers carry a
fresh random nonce, so nothing a step prints can pass for one (not even our own marker
text), and a marker found after output that did not end its line ends that line there:
the user sees their text, never our plumbing. The per-step timeout and the caller's
cancel are kept by the process's one step watch (remote/step_watch.py), which stops the
run (the transport kills the remote process group) when one step runs longer than the
timeout. Step-start markers go to both stdout and
stderr (each pipe is ordered, the two are not), so each step's output tails, and so
its failure reason, are its own.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploytui.engine.errors import failure_line
from deploytui.engine.events import (
    HostFailed,
    HostLines,
    HostStepDone,
    HostStepStarted,
    Sink,
)
from deploytui.engine.hosts.transport import (
    Cancelled,
    ConnectionLost,
    Transport,
    TransportError,
    Unreachable,
)
from deploytui.engine.remote.step_watch import step_watch
from deploytui.engine.remote.steps import Step, StepFailed
from deploytui.engine.shell import q

TAIL_LINES = 100  # per step and stream, for the one-line failure reason

# how an upload step gets its file to the host (default: transport.upload; the artifact
# relay passes its own, operations/deploy/fanout.py): (transport, local, remote, cancel)
Uploader = Callable[[Transport, Path, str, "threading.Event | None"], None]


def new_nonce() -> str:
    return secrets.token_hex(8)


def marker(nonce: str) -> str:
    """What starts every marker of one run: `\\x1edeploytui-<nonce> `."""
    return f"\x1edeploytui-{nonce} "


@dataclass(frozen=True)
class ScriptStep:
    name: str  # as in events and errors: "fetch", "build: make"
    command: str  # the step's shell text, run as if it were its own command
    quiet: bool = False  # bookkeeping (metadata): no events unless it fails
    inline: bool = False  # run in the script's own shell (see steps.Step.inline)


def script_text(steps: Sequence[ScriptStep], nonce: str) -> str:
    """The bash script running `steps` in order, each framed by `nonce`'s markers."""
    mark = f"\\036deploytui-{nonce}"
    parts = []
    if any(step.inline for step in steps):  # an inline step's `exit` ends the script
        parts.append(f"trap '__dt_rc=$?; [ -z \"$__dt_at\" ] ||"
                     f" printf \"{mark} done %s %s\\n\" \"$__dt_at\" \"$__dt_rc\" >&2' EXIT\n"
                     "__dt_at=\n")
    for i, step in enumerate(steps):
        run = (f"__dt_at={i}; eval {q(step.command)}" if step.inline
               else f"( eval {q(step.command)} )")
        parts.append(
            f"printf '{mark} step {i}\\n' >&2; printf '{mark} step {i}\\n'\n"
            f"{run}\n"
            "__dt_rc=$?\n"
            + ("__dt_at=\n" if step.inline else "") +
            f"printf '{mark} done {i} %s\\n' \"$__dt_rc\" >&2\n"
            "[ \"$__dt_rc\" -eq 0 ] || exit \"$__dt_rc\"\n")
    return "".join(parts)


class _Run:
    """Per-run state: which step runs, its output tails, and its entry in the watch."""

    def __init__(self, transport: Transport, phase: str, steps: Sequence[ScriptStep],
                 sink: Sink, cancel: threading.Event | None, timeout: float | None,
                 on_done: Callable[[ScriptStep], None] | None) -> None:
        self.host = transport.name
        self.phase, self.steps, self.sink = phase, steps, sink
        self.cancel, self.timeout, self.on_done = cancel, timeout, on_done
        self.current: int | None = None  # index of the step running now
        self.began = 0.0
        self.finished: dict[int, int] = {}  # index -> exit code
        self.nonce = new_nonce()
        self.mark = marker(self.nonce)
        self.err: deque[str] = deque(maxlen=TAIL_LINES)  # current step's stderr tail
        self.out: deque[str] = deque(maxlen=TAIL_LINES)  # current step's stdout tail
        self.watched = step_watch().watch(cancel, timeout, self._still_running)

    # -- output --------------------------------------------------------------
    def lines(self, batch: list[str], stream: str) -> None:
        """One read's lines: output goes on as one batch between markers."""
        mark = self.mark
        if mark not in "\x00".join(batch):  # one C-speed scan; markers are rare
            self._output(batch, stream)
            return
        hits = [i for i, line in enumerate(batch) if mark in line]
        start = 0
        for i in hits:
            line = batch[i]
            at = line.find(mark)
            before = batch[start:i]
            if at > 0:  # output that did not end its line: it ends here, at the marker
                before.append(line[:at])
            self._output(before, stream)
            self._marker(line[at + len(mark):], stream)
            start = i + 1
        self._output(batch[start:], stream)

    def _output(self, lines: list[str], stream: str) -> None:
        if not lines:
            return
        (self.err if stream == "err" else self.out).extend(lines)
        self.sink(HostLines(host=self.host, lines=tuple(lines),
                            stream="err" if stream == "err" else "out"))

    def _marker(self, rest: str, stream: str) -> None:
        kind, _, args = rest.partition(" ")
        if kind == "step":
            if stream == "err":
                self._started(args)
            else:  # each stream is framed on its own: pipes are ordered, not each other
                self.out.clear()
        elif kind == "done":
            self._done(args)

    def _started(self, rest: str) -> None:
        if not rest.strip().isdigit() or int(rest) >= len(self.steps):
            return
        self.current, self.began = int(rest), time.monotonic()
        step_watch().step_started(self.watched, self.current, self.began)
        self.err.clear()
        step = self.steps[self.current]
        if not step.quiet:
            self.sink(HostStepStarted(host=self.host, phase=self.phase, step=step.name))

    def _done(self, rest: str) -> None:
        index, _, code = rest.partition(" ")
        if not index.isdigit() or int(index) >= len(self.steps):
            return
        try:
            rc = int(code.strip())
        except ValueError:
            rc = 1
        i = int(index)
        self.finished[i] = rc
        step = self.steps[i]
        if not step.quiet:
            self.sink(HostStepDone(host=self.host, phase=self.phase, step=step.name,
                                   duration=time.monotonic() - self.began, exit_code=rc))
        if rc == 0 and self.on_done is not None:
            self.on_done(step)

    # -- watch -----------------------------------------------------------------
    def _still_running(self, index: int) -> bool:
        return self.current == index and index not in self.finished

    def stop(self) -> None:
        step_watch().unwatch(self.watched)

    # -- failure ---------------------------------------------------------------
    def failing_step(self) -> ScriptStep:
        """The step that was running (or last started) when the run ended."""
        return self.steps[self.current if self.current is not None else 0]

    def reason(self, exit_code: int) -> str:
        found = failure_line("\n".join(self.err), "\n".join(self.out))
        return f"{found} (exit {exit_code})" if found else f"exit status {exit_code}"

    def fail(self, reason: str, **flags: bool) -> StepFailed:
        step = self.failing_step()
        if not flags.get("cancelled"):
            self.sink(HostFailed(host=self.host, phase=self.phase, step=step.name,
                                 reason=reason))
        return StepFailed(self.host, step.name, reason, **flags)


def run_script(transport: Transport, phase: str, steps: Sequence[ScriptStep], *, sink: Sink,
               cancel: threading.Event | None = None, timeout: float | None = None,
               env: Mapping[str, str] | None = None,
               on_done: Callable[[ScriptStep], None] | None = None) -> None:
    """Run `steps` as one remote command; raises StepFailed naming the failing step.

    `timeout` applies to each step (not to the whole script); `on_done(step)` is called
    as each step succeeds (the deploy learns "the release directory exists" that way).
    """
    if not steps:
        return
    if cancel is not None and cancel.is_set():
        raise StepFailed(transport.name, steps[0].name, "cancelled", cancelled=True)
    run = _Run(transport, phase, steps, sink, cancel, timeout, on_done)
    overall = None if timeout is None else timeout * len(steps) + 60.0
    try:
        result = transport.run(script_text(steps, run.nonce), on_lines=run.lines,
                               timeout=overall,
                               cancel=run.watched.stop, env=dict(env) if env else None)
    except Cancelled:
        if run.watched.timed_out:
            raise run.fail(f"timed out after {timeout:g}s; the command was terminated"
                           ) from None
        raise run.fail("cancelled", cancelled=True) from None
    except TransportError as exc:
        raise run.fail(exc.message, lost=isinstance(exc, ConnectionLost | Unreachable)
                       ) from None
    finally:
        run.stop()
    if result.ok and len(run.finished) == len(steps):
        return
    code = result.exit_code
    if run.current is not None and run.current in run.finished:
        code = run.finished[run.current] or code
    if code == 0:  # the script ended early without saying why
        code = 1
    raise run.fail(run.reason(code))


def run_steps(transport: Transport, phase: str, steps: Sequence[Step], *, sink: Sink,
              cancel: threading.Event | None = None, timeout: float | None = None,
              env: Mapping[str, str] | None = None, first: Sequence[ScriptStep] = (),
              last: Sequence[ScriptStep] = (),
              on_done: Callable[[ScriptStep], None] | None = None,
              uploader: Uploader | None = None) -> None:
    """A strategy's steps as few remote commands as possible: one script per run of
    shell steps (an upload is not a shell step, so it splits the run). `first`/`last`
    are bookkeeping steps run at the start of the first script and the end of the last.
    """
    segments: list[list[ScriptStep] | Step] = []
    pending = list(first)
    for step in steps:
        if step.upload is None:
            pending.append(ScriptStep(step.name, step.command, inline=step.inline))
            continue
        segments += [pending, step]
        pending = []
    segments.append(pending + list(last))
    for segment in segments:
        if isinstance(segment, Step):
            upload(transport, phase, segment, sink=sink, cancel=cancel, uploader=uploader)
        else:
            run_script(transport, phase, segment, sink=sink, cancel=cancel, timeout=timeout,
                       env=env, on_done=on_done)


def upload(transport: Transport, phase: str, step: Step, *, sink: Sink,
           cancel: threading.Event | None = None, uploader: Uploader | None = None) -> None:
    """An upload step, reported like any other step."""
    assert step.upload is not None
    host = transport.name
    sink(HostStepStarted(host=host, phase=phase, step=step.name))
    began = time.monotonic()
    try:
        if uploader is not None:
            uploader(transport, step.upload, step.remote, cancel)
        else:
            transport.upload(step.upload, step.remote, cancel=cancel)
    except TransportError as exc:
        sink(HostFailed(host=host, phase=phase, step=step.name, reason=exc.message))
        raise StepFailed(host, step.name, exc.message,
                         cancelled=cancel is not None and cancel.is_set()) from None
    sink(HostStepDone(host=host, phase=phase, step=step.name,
                      duration=time.monotonic() - began))


def tagged(tag: str, command: str, *, inline: bool = False) -> str:
    """`command` reported as one line `TAG RC [OUTPUT]`, so several bookkeeping commands
    can share one remote command and still fail one by one.

    By default it runs in a subshell ($(...)) whose output is kept: on a failure OUTPUT
    is the last 40 lines, base64 (one line whatever they hold). An `inline` command
    (one that never exits, `cd`s or sets options) runs in the command's own shell,
    saving that fork on every host: its output goes out as it comes, after a
    `TAG begin` line, and the status line ends it. Either way the one-line error is
    chosen here by errors.failure_line like every other."""
    if inline:
        return (f"echo '{tag} begin'; eval {q(command)} 2>&1; __dt_rc=$?; "
                f"printf '\\n%s %s\\n' '{tag}' \"$__dt_rc\"")  # on a line of its own
    return (f"__dt_out=$(eval {q(command)} 2>&1); __dt_rc=$?; "  # $(...) is a subshell
            f"if [ $__dt_rc -eq 0 ]; then echo '{tag} 0'; else "  # forks only on failure
            f"echo \"{tag} $__dt_rc $(printf '%s' \"$__dt_out\" | tail -n 40 | base64"
            " | tr -d '\\n')\"; fi")


def tag_results(output: str, tags: Sequence[str]) -> dict[str, str | None]:
    """tag -> None (it succeeded) or its one-line error, for each tag of `tagged` lines;
    a tag with no report at all reads as failed."""
    found: dict[str, str | None] = {tag: "no report from the host" for tag in tags}
    said: list[str] | None = None  # an inline part's output, since its begin line
    for line in output.splitlines():
        tag, _, rest = line.partition(" ")
        if tag in found and rest == "begin":
            said = []
            continue
        if tag in found and rest.split(" ", 1)[0].isdigit():
            rc, _, encoded = rest.partition(" ")
            reason = (_decoded_reason(encoded) if encoded
                      else failure_line("\n".join(said or [])))
            found[tag] = None if rc == "0" else (reason or f"exit status {rc}")
            said = None
        elif said is not None:
            said.append(line)
    return found


def _decoded_reason(encoded: str) -> str:
    try:
        text = base64.b64decode(encoded.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        text = encoded
    return failure_line(text)
