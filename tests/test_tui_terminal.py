"""The console in a real terminal (tmux): it draws the demo, then `q` quits it."""

from __future__ import annotations

import time

from terminal import ROOT, pytestmark, start_console, tmux, wait_for  # noqa: F401


def test_the_demo_console_draws_in_a_real_terminal_and_q_quits(tmp_path):
    session, done = start_console(tmp_path, "config.example.yml", "demo", (160, 48))
    try:
        screen = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            screen = tmux("capture-pane", "-p", "-t", session)
            if "staging" in screen and "Deploy" in screen and "reachable" in screen:
                break
            time.sleep(0.2)
        assert "demo" in screen and "staging" in screen, screen
        assert "Deploy" in screen and "Releases" in screen  # the footer's keys
        tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 10
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists(), tmux("capture-pane", "-p", "-t", session)
        assert done.read_text().strip() == "0"
    finally:
        tmux("kill-session", "-t", session)


def test_at_80x24_production_is_deployed_by_typing_its_name(tmp_path):
    """A new user's path: select production, d, read the plan, type the name, Enter."""
    demo_root = tmp_path / "demo"
    config = tmp_path / "config.yml"
    config.write_text((ROOT / "config.example.yml").read_text()
                      .replace("/tmp/deploytui-demo", str(demo_root)))
    session, _done = start_console(tmp_path, config, "prod", (80, 24))
    try:
        wait_for(session, "production", "q Quit", "? Help")
        tmux("send-keys", "-t", session, "BTab")  # from the hosts table to the tree
        tmux("send-keys", "-t", session, "j")  # demo / production
        wait_for(session, "demo / production")
        tmux("send-keys", "-t", session, "d")
        screen = wait_for(session, "Type production to enable Deploy", "Back", "Deploy")
        assert "Deploy demo → production" in screen
        tmux("send-keys", "-t", session, "Enter")  # nothing typed: refused, and it says why
        wait_for(session, "nothing typed")
        tmux("send-keys", "-t", session, "-l", "production")
        tmux("send-keys", "-t", session, "Enter")
        wait_for(session, "Deploy succeeded", "local3: done", timeout=60)
        for host in ("local1", "local2", "local3"):
            assert (demo_root / "production" / host / "current").is_symlink()
        tmux("send-keys", "-t", session, "Escape")
        tmux("send-keys", "-t", session, "q")
    finally:
        tmux("kill-session", "-t", session)
