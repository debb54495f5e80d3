"""`deploytui secret set|delete NAME`: put a `{secret: NAME}` value into the OS keyring.

`set` asks without echo (twice, to catch a typo, when stdin is a terminal) or reads
one line from stdin when it is not (`pass show x | deploytui secret set x`). The value
is never printed. Works without a config file.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys

from deploytui.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from deploytui.config.model import Config
from deploytui.config.secrets import KeyringUnusable, delete_secret, store_secret

NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def read_value(name: str) -> str | None:
    """The secret from the terminal (no echo, confirmed) or from piped stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"value for secret {name}: ")
        second = getpass.getpass("again, to confirm: ")
        if first != second:
            print("deploytui: the two values differ; nothing stored", file=sys.stderr)
            return None
        return first
    return sys.stdin.readline().rstrip("\r\n")


def run(args: argparse.Namespace, config: Config | None) -> int:
    name: str = args.name
    if not NAME.match(name):
        print(f"deploytui: bad secret name {name!r} (letters, digits, '.', '_', '-')",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.action == "delete":
            if delete_secret(name):
                print(f"secret {name} deleted")
                return EXIT_OK
            print(f"deploytui: no secret {name} in the keyring", file=sys.stderr)
            return EXIT_FAILED
        value = read_value(name)
        if value is None:
            return EXIT_FAILED
        if not value:
            print("deploytui: empty value; nothing stored", file=sys.stderr)
            return EXIT_FAILED
        store_secret(name, value)
    except KeyringUnusable as exc:
        print(f"deploytui: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (EOFError, KeyboardInterrupt):
        print("deploytui: cancelled; nothing stored", file=sys.stderr)
        return EXIT_FAILED
    print(f"secret {name} stored in the OS keyring")
    return EXIT_OK
