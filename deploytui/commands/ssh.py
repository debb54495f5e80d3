"""`deploytui ssh PROJECT ENV [HOST] [-- CMD…]`: a terminal on one host, in `current`.

deploytui checks the host and leaves the env there (engine/operations/session.py), then
replaces itself with OpenSSH's `ssh` (exec): the terminal, Ctrl-C, `~.` and the exit
status are the session's own, as if the user had typed the ssh command.
"""

from __future__ import annotations

import argparse
import os
import sys

from deploytui.commands import EXIT_FAILED, UsageError, select
from deploytui.config.model import Config
from deploytui.engine import SessionRefused, prepare_session


def run(args: argparse.Namespace, config: Config) -> int:
    project, env = select(config, args.project, args.env)
    remote = getattr(args, "remote", None)
    if remote is not None and not remote:
        raise UsageError("nothing after --: give a command, or leave -- out for a shell")
    command = " ".join(remote) if remote else None
    try:
        session = prepare_session(config, project, env, args.host, command,
                                  tty=sys.stdin.isatty())
    except SessionRefused as exc:
        message = str(exc)
        if message.startswith("no host "):
            raise UsageError(message) from None
        print(f"deploytui: ssh: {message}", file=sys.stderr)
        return EXIT_FAILED
    print(f"deploytui: {session.host} ({project.name}/{env.name}), in {session.cwd}",
          file=sys.stderr, flush=True)
    sys.stdout.flush()
    os.execvp(session.argv[0], session.argv)
    return EXIT_FAILED  # not reached: exec replaces this process
