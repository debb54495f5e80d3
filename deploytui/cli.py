"""The `deploytui` command: no subcommand opens the console, subcommands run headless.

Start-up time matters (CI calls this in loops, people press Tab): only argparse is
imported up front; the config loader, a command's module and the console are imported
when they are needed. Every failure the user can cause ends in one line on stderr
and a documented exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from deploytui import __version__
from deploytui.commands import EXIT_CANCELLED, EXIT_FAILED, EXIT_USAGE, UsageError

if TYPE_CHECKING:
    from deploytui.config import Config, ConfigProblem

PROG = "deploytui"
# A command's implementation lives in deploytui.commands.<module>.
COMMAND_MODULES = {"unlock": "lock", "catch-up": "catch_up", "unfreeze": "freeze"}
CONSOLE_MODULE = "deploytui.tui.app"

EPILOG = """\
exit status: 0 ok, 1 failed, 2 usage or config error, 3 locked, 130 cancelled.
config: --config PATH, else $DEPLOYTUI_CONFIG, else ./deploytui.yml, else the user
config directory (e.g. ~/.config/deploytui/config.yml).
no config yet: `deploytui init` writes a starter, `deploytui demo` needs none."""


def _at_least(kind: type, what: str, least: int):
    """An argparse type: `kind(text)`, at least `least`, else one clear line."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got '{text}'") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {text}")
        return value

    return parse


_positive = _at_least(int, "a whole number", 1)
_seconds = _at_least(float, "seconds", 0)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; --config and --theme are accepted before or after a command."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Deploy applications over SSH: a terminal console, "
        "or headless commands for CI.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, metavar="PATH", help="the config file to use")
    parser.add_argument("--theme", metavar="NAME", help="the console's theme")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    # The same options after the command; SUPPRESS keeps them from resetting the above.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, metavar="PATH", default=argparse.SUPPRESS,
                        help="the config file to use")
    common.add_argument("--theme", metavar="NAME", default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)

    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text,
                                   parents=[common])

    def target(sub: argparse.ArgumentParser, optional: bool = False) -> None:
        nargs: Any = "?" if optional else None
        sub.add_argument("project", nargs=nargs, metavar="PROJECT", help="a project name")
        sub.add_argument("env", nargs=nargs, metavar="ENV", help="an environment of it")

    def force_freeze(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--force-freeze", action="store_true", help="deploy inside a "
                         "freeze (recorded as an override on the hosts and in the journal)")

    def wait_lock(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--wait-lock", type=_seconds, default=0.0, metavar="SECONDS",
                         help="wait up to SECONDS for a live lock to be released "
                         "(exit 3 if it is still held)")

    sub = command("check", "validate the config (and with --connect, reach every host)")
    target(sub, optional=True)
    sub.add_argument("--connect", action="store_true",
                     help="also check on every host what a deploy needs: login, bash, git"
                     " (or tar), a writable deploy_to, free disk, sudo -n, the repo reached"
                     " from the host, shared files (one line per problem, exit 1 if any)")
    sub.add_argument("--json", action="store_true",
                     help="print the result as JSON (docs/json-output.md)")

    sub = command("deploy", "deploy to every host of an environment")
    target(sub)
    sub.add_argument("--ref", metavar="REF", help="branch, tag or commit (default: branch)")
    sub.add_argument("--yes", action="store_true", help="confirm an environment that asks")
    sub.add_argument("--dry-run", action="store_true", help="show what would be done")
    sub.add_argument("--break-lock", action="store_true", help="take over a stale lock")
    wait_lock(sub)
    sub.add_argument("--exclude", action="append", default=[], metavar="HOST[,HOST...]",
                     help="leave these hosts out on purpose (they keep serving what they "
                     "serve; `catch-up` brings them up to date later)")
    force_freeze(sub)
    sub.add_argument("--force", action="store_true", help="deploy even the commit every "
                     "host already serves (otherwise: nothing to do, exit 0)")
    sub.add_argument("--json", action="store_true", help="progress on stderr, the result "
                     "as JSON on stdout (docs/ci.md)")

    sub = command("catch-up", "bring hosts left out of a deploy up to the fleet's release")
    target(sub)
    sub.add_argument("hosts", nargs="*", metavar="HOST", help="only these hosts (default: "
                     "every host that is behind)")
    sub.add_argument("--yes", action="store_true", help="confirm an environment that asks")
    force_freeze(sub)

    sub = command("rollback", "switch back to an earlier release")
    target(sub)
    sub.add_argument("--to", metavar="RELEASE", help="release id (default: the previous one)")
    sub.add_argument("--yes", action="store_true", help="confirm an environment that asks")
    wait_lock(sub)

    sub = command("health", "check every host's health now, without deploying")
    target(sub)
    sub.add_argument("--json", action="store_true", help="print JSON")

    sub = command("run", "run a shell command in `current` on hosts of an environment "
                  "(no lock taken)")
    target(sub)
    sub.add_argument("--host", action="append", metavar="HOST[,HOST...]",
                     help="only these hosts (default: every host of the environment)")
    sub.add_argument("--role", metavar="ROLE", help="only the hosts of this role")
    sub.add_argument("--once", action="store_true", help="only the once-host (the host a "
                     "deploy runs `once` steps on; of --role when given)")
    sub.add_argument("--json", action="store_true", help="print JSON (exit codes, output)")
    sub.add_argument("--yes", action="store_true", help="confirm a `confirm: true` command")
    sub.add_argument("words", nargs="*", metavar="NAME | -- CMD...", help="the NAME of one "
                     "of the project's `commands:`, or a shell command after --")

    sub = command("ssh", "an interactive shell on one host, in `current`, with the "
                  "project's env (`-- CMD...`: run CMD instead, with a terminal)")
    target(sub)
    sub.add_argument("host", nargs="?", metavar="HOST", help="the host (default: the "
                     "once-host, else the first host)")

    sub = command("init", "write a commented starter deploytui.yml for the app here")
    sub.add_argument("path", nargs="?", type=Path, default=Path("deploytui.yml"),
                     metavar="PATH", help="the file to write (default: ./deploytui.yml)")
    command("demo", "open the console on the built-in demo (no config file, no server)")

    sub = command("releases", "list the releases kept on the hosts")
    target(sub)
    sub.add_argument("--json", action="store_true", help="print JSON")

    sub = command("logs", "show the last lines of every host's logs; -f follows them")
    target(sub)
    from deploytui.commands.logs_args import add_logs_arguments

    add_logs_arguments(sub)

    sub = command("prune", "delete old releases")
    target(sub)
    sub.add_argument("--keep", type=_positive, metavar="N", help="releases to keep "
                     "(default: keep_releases)")
    sub.add_argument("--dry-run", action="store_true", help="show what would be deleted")
    sub.add_argument("--yes", action="store_true", help="confirm an environment that asks")
    wait_lock(sub)

    sub = command("history", "show past deploys from the local journal")
    target(sub, optional=True)
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub.add_argument("--fleet", action="store_true", help="read the hosts' record instead: "
                     "every operator's and CI's operations (needs PROJECT ENV)")

    target(command("lock", "lock an environment so nobody deploys to it"))
    target(command("unlock", "remove an environment's lock"))
    from deploytui.commands.freeze_args import add_freeze_commands

    add_freeze_commands(command, target)

    sub = command("secret", "store or delete a secret in the OS keyring")
    sub.add_argument("action", choices=("set", "delete"), help="set (asks for the value) "
                     "or delete")
    sub.add_argument("name", metavar="NAME", help="the NAME of {secret: NAME}")
    return parser


def run() -> None:
    """The console script (and `python -m deploytui`): main(), then a prompt exit.

    When main() returns, every log file, journal row and connection is closed, and what
    asked to run at exit (atexit, weakref finalizers: temp dirs) runs here. What the
    interpreter would still do is a last garbage collection and module teardown over
    everything an operation built: 30-75 ms after a 30-host deploy, measured, paid by
    every CI loop and every keypress that runs us. os._exit skips just that.
    """
    import atexit
    import contextlib

    code = main()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe
            stream.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Run deploytui with `argv` (default: sys.argv[1:]); the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parse(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print(f"{PROG}: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:  # `deploytui history | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


def _parse(argv: list[str]) -> argparse.Namespace:
    """argv as parsed; for `run` and `ssh`, what follows `--` is the remote command
    (`args.remote`, None without `--`), whatever options come before it."""
    parser = build_parser()
    cut = argv.index("--") if "--" in argv else -1
    if cut >= 0 and _command_word(argv[:cut]) in ("run", "ssh"):
        args = parser.parse_args(argv[:cut])
        args.remote = argv[cut + 1:]
        return args
    args = parser.parse_args(argv)
    args.remote = None
    return args


def _command_word(argv: list[str]) -> str | None:
    """The subcommand named in argv (the first word that is no option or its value)."""
    words = iter(argv)
    for word in words:
        if word in ("--config", "--theme"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _dispatch(args: argparse.Namespace) -> int:
    from deploytui.config.secrets import SecretUnavailable

    try:
        return _dispatch_command(args)
    except SecretUnavailable as exc:  # e.g. ssh.passphrase: nothing was attempted
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _dispatch_command(args: argparse.Namespace) -> int:
    from deploytui.config import ConfigError, load_config

    if (args.command == "history" and getattr(args, "json", False)
            and not getattr(args, "fleet", False)):
        # the journal is local: it needs no config file
        try:
            history_config: Config | None = load_config(args.config)
        except ConfigError:
            history_config = None
        return _run_command(args, history_config)
    if args.command == "init":  # for a start without any config file
        return _run_command(args, None)
    if args.command == "demo":
        from deploytui.config.demo import demo_config

        return _console(demo_config(), args.theme)
    if args.command == "secret":  # works without any config file
        try:
            secret_config: Config | None = load_config(args.config)
        except ConfigError:
            secret_config = None
        return _run_command(args, secret_config)
    try:
        config = load_config(args.config)
        for warning in config.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if args.command is None:
            return _console(config, args.theme)
        _check_names(config, args)
        return _run_command(args, config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(_problem_line(problem), file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _problem_line(problem: ConfigProblem) -> str:
    return str(problem) if problem.file else f"{PROG}: {problem}"


def _check_names(config: Config, args: argparse.Namespace) -> None:
    """Unknown project or environment: one line before any command module is loaded.

    Not for `history`: the journal keeps projects that have left the config since.
    """
    from deploytui.commands import select, select_project

    project, env = getattr(args, "project", None), getattr(args, "env", None)
    if args.command == "history":
        return
    if project is not None and env is not None:
        select(config, project, env)
    elif project is not None:
        select_project(config, project)


def _run_command(args: argparse.Namespace, config: Config | None) -> int:
    name = args.command
    module_name = f"deploytui.commands.{COMMAND_MODULES.get(name, name)}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # a missing dependency of an existing module is a bug, not a usage error
        module = None
    run = getattr(module, "run", None)
    if run is None:
        print(f"{PROG}: '{name}' is not available yet", file=sys.stderr)
        return EXIT_USAGE
    return int(run(args, config))


def console_module() -> ModuleType:
    """The console's module (Textual and all), imported with garbage collection paused.

    Everything the import makes (classes, functions, CSS) lives as long as the process,
    while every collection during it would also scan the config loaded just before:
    with 2,000 hosts, 15 ms of a 0.1 s import.
    """
    from deploytui.gc_pause import gc_paused

    with gc_paused():
        return importlib.import_module(CONSOLE_MODULE)


def _console(config: Config, theme: str | None) -> int:
    try:
        module = console_module()
    except ModuleNotFoundError as exc:
        if exc.name not in (CONSOLE_MODULE, "deploytui.tui"):
            raise
        print(f"{PROG}: the console is not available yet; run '{PROG} --help' for the "
              "headless commands", file=sys.stderr)
        return EXIT_USAGE
    return int(module.run_console(config, theme=theme))


if __name__ == "__main__":
    raise SystemExit(main())
