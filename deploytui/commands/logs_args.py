"""The `logs` command line, apart from cli.py (which imports only argparse up front)."""

from __future__ import annotations

import argparse


def _lines(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {text}")
    return value


def add_logs_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--host", action="append", metavar="H[,H...]",
                     help="only these hosts (default: every host whose roles have logs)")
    sub.add_argument("--role", action="append", metavar="R[,R...]",
                     help="only these roles' hosts, and only their logs")
    sub.add_argument("-n", "--lines", type=_lines, default=10, metavar="N",
                     help="past lines per log file or command (default: 10, as tail)")
    sub.add_argument("-f", "--follow", action="store_true",
                     help="then follow new lines until Ctrl-C (exit 0), across log "
                     "rotation and hosts that drop out and come back")
    sub.add_argument("--since", metavar="DURATION",
                     help="only what is newer than 30s, 10m, 2h, 1d: journalctl's --since; "
                     "a log file not modified within it shows no past lines (files carry "
                     "no timestamps deploytui can trust)")
    sub.add_argument("--grep", metavar="RE",
                     help="only lines matching RE (a POSIX extended regex, as grep -E), "
                     "filtered on the hosts")
