"""Application logs on fleet hosts, written from outside as an app and logrotate write
them (the same inode a host's `tail` reads), and what a test waits for while following."""

from __future__ import annotations

import time

from fleet import FleetHost

LOG = "/srv/app/shared/log/app.log"


def write_log(host: FleetHost, lines: list[str], remote: str = LOG, mode: str = "a") -> None:
    path = host.path(remote)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode) as fh:
        fh.write("".join(f"{ln}\n" for ln in lines))


def eventually(check, timeout: float = 10.0) -> bool:
    """Whether `check()` became true within `timeout` (processes start and end a little
    after what they print says)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def tails_on(host: FleetHost) -> list[str]:
    return [p for p in host.processes() if p.startswith("tail ")]
