"""The logs view in a real terminal (tmux, 80x24) against the fleet: `L` shows every
host's lines as they are written, esc and `q` leave with nothing running on the hosts."""

from __future__ import annotations

import time
from pathlib import Path

from fleet import Fleet
from log_hosts import LOG, eventually, tails_on, write_log
from terminal import pytestmark, start_console, tmux, wait_for

__all__ = ["pytestmark"]  # needs tmux


def test_at_80x24_l_follows_the_hosts_logs_and_quitting_leaves_no_tail(
        hosts: Fleet, tmp_path: Path):
    roles = {"web": {"restart": ["true"], "logs": [LOG]}}
    config = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(2, roles=roles))
    h1, h2 = hosts.hosts[:2]
    write_log(h1, ["h1 booted"])
    write_log(h2, ["h2 booted"])
    session, done = start_console(tmp_path, config, "logs", (80, 24))
    try:
        wait_for(session, "prod", "q Quit")
        tmux("send-keys", "-t", session, "L")
        wait_for(session, "Logs · app / prod", "h1 booted", "h2 booted", "following")
        write_log(h2, ["h2 GET /cart 500 in 12ms"])
        screen = wait_for(session, "h2 GET /cart 500 in 12ms")
        assert "host2 │ h2 GET /cart 500" in screen  # all hosts, prefixed
        assert "esc Back" in screen and "f Follow/pause" in screen  # its keys, at 80 columns
        tmux("send-keys", "-t", session, "Escape")
        wait_for(session, "q Quit")
        tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 20
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.read_text().strip() == "0"
        assert eventually(lambda: not (tails_on(h1) or tails_on(h2)))
    finally:
        tmux("kill-session", "-t", session)
