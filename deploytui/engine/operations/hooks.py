"""The project's hooks: commands run on the deploying machine around a deploy.

`before_deploy` may stop a deploy before anything is touched (no connection, no lock);
the `after_*` hooks only report: a failing one is a warning, never a changed outcome.
Each hook sees DEPLOYTUI_PROJECT, _ENV, _RELEASE, _SHA, _REF, _USER (and, after the
end, _OUTCOME) in its environment, runs in the config file's directory, and is killed
(its whole process group) at the project's `timeout`. Its output streams as lines of
the pseudo-host "local", so the log, the journal and the console show it (redacted by
the deploy's sink like every other line).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from deploytui.config.model import HOOK_NAMES, Project
from deploytui.engine.events import HostLine, HostLines, Sink
from deploytui.engine.hosts.local import LocalTransport
from deploytui.engine.hosts.transport import Cancelled, TransportError
from deploytui.engine.remote.steps import in_dir

HOOK_HOST = "local"  # the pseudo-host whose lines carry hook output (as for local builds)


@dataclass(frozen=True)
class HookContext:
    """What a hook is told about the deploy, through its environment."""

    project: str
    environment: str
    release: str = ""
    sha: str = ""
    ref: str = ""
    user: str = ""

    def env(self, outcome: str | None = None) -> dict[str, str]:
        values = {"DEPLOYTUI_PROJECT": self.project, "DEPLOYTUI_ENV": self.environment,
                  "DEPLOYTUI_RELEASE": self.release, "DEPLOYTUI_SHA": self.sha,
                  "DEPLOYTUI_REF": self.ref, "DEPLOYTUI_USER": self.user}
        if outcome is not None:
            values["DEPLOYTUI_OUTCOME"] = outcome
        return values


def run_hooks(project: Project, name: str, context: HookContext, *, sink: Sink,
              cwd: Path | None = None, outcome: str | None = None,
              cancel: threading.Event | None = None) -> str | None:
    """Run the project's `name` hooks in order; the first failure's one line, or None.

    Stops at the first failing command: a later hook may rely on an earlier one.
    """
    if name not in HOOK_NAMES:
        raise ValueError(f"unknown hook {name}")
    commands = project.hooks.of(name)
    if not commands:
        return None
    transport = LocalTransport(HOOK_HOST)
    try:
        transport.connect()
    except TransportError as exc:
        return f"{name}: {exc.message}"
    env = context.env(outcome)
    directory = str(cwd) if cwd is not None else None
    for command in commands:
        sink(HostLine(host=HOOK_HOST, line=f"hook {name}: $ {command}", stream="info"))

        def lines(batch: list[str], stream: str) -> None:
            sink(HostLines(host=HOOK_HOST, lines=tuple(batch),
                           stream="err" if stream == "err" else "out"))

        try:
            result = transport.run(in_dir(directory, command) if directory else command,
                                   on_lines=lines, timeout=project.timeout, cancel=cancel,
                                   env=env)
        except Cancelled:
            return f"{name}: {command}: cancelled"
        except TransportError as exc:  # timed out: the process group was killed
            return f"{name}: {command}: {exc.message}"
        if not result.ok:
            last = result.last_line()
            why = last if last == f"exit status {result.exit_code}" \
                else f"{last} (exit {result.exit_code})"
            return f"{name}: {command}: {why}"
    return None
