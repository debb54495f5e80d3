"""The first five minutes without this repository: `deploytui init` writes a starter
config for the app at hand, `check` names what is left to edit, and `deploytui demo`
opens a built-in demo; the no-config message names both."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from fleet import Fleet
from terminal import start_console, tmux, wait_for

from deploytui.cli import main
from deploytui.config import load_config
from deploytui.config.demo import demo_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, no config anywhere, a data dir of its own."""
    work = tmp_path / "shop"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("DEPLOYTUI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    return work


def git(cwd: Path, *argv: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *argv], check=True, capture_output=True)


def test_init_in_a_git_repository_fills_in_its_remote_and_default_branch(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(workdir, "init", "-q", "-b", "work")
    git(workdir, "remote", "add", "origin", "git@github.com:acme/shop.git")
    git(workdir, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "wrote deploytui.yml: project 'shop', one environment " \
                                  "'production'"
    assert "repo git@github.com:acme/shop.git, branch trunk" in out
    assert "deploytui check" in out and "deploytui deploy shop production" in out
    text = (workdir / "deploytui.yml").read_text()
    assert "    repo: git@github.com:acme/shop.git\n" in text
    assert "    branch: trunk " in text
    assert "#   release   clone and build a new releases/<id>" in text  # strategy explained
    # check names the placeholder host, with its line, and nothing else
    assert main(["check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "CHANGE-ME" in ln
                and "address" in ln)
    assert err == [f"deploytui.yml:{line}: projects.shop.environments.production.hosts.web1."
                   "address: placeholder 'CHANGE-ME.example': replace it with the host's "
                   "DNS name, IP or ssh_config alias"]
    # once the host is filled in, the starter is a valid config
    (workdir / "deploytui.yml").write_text(text.replace("CHANGE-ME.example", "192.0.2.10"))
    assert main(["check"]) == 0


def test_init_never_overwrites_an_existing_file(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "deploytui.yml").write_text("mine\n")
    assert main(["init"]) == 1
    assert capsys.readouterr().err == ("deploytui: deploytui.yml already exists: not "
                                       "overwritten (edit it, or give another path: "
                                       "deploytui init PATH)\n")
    assert (workdir / "deploytui.yml").read_text() == "mine\n"


def test_init_outside_a_git_repository_writes_placeholders_and_says_so(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "staging.yml"]) == 0
    out = capsys.readouterr().out
    assert "not inside a git repository: the repo is a placeholder too" in out
    assert "deploytui check --config staging.yml" in out
    assert main(["--config", "staging.yml", "check"]) == 2
    err = capsys.readouterr().err
    assert "projects.shop.repo: placeholder 'git@CHANGE-ME.example:you/app.git'" in err
    assert "hosts.web1.address: placeholder 'CHANGE-ME.example'" in err


def test_with_no_config_anywhere_the_message_names_init_and_demo(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["releases", "shop", "production"]) == 2
    err = capsys.readouterr().err
    assert "`deploytui init` writes a starter ./deploytui.yml for your app" in err
    assert "`deploytui demo` opens the built-in demo" in err


def test_the_starter_deploys_once_its_placeholders_are_filled_in(
        hosts: Fleet, workdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
        ) -> None:
    app = tmp_path / "app"
    subprocess.run(["git", "clone", "-q", hosts.repo_url, str(app)], check=True)
    os.chdir(app)
    assert main(["init"]) == 0
    assert f"repo {hosts.repo_url}, branch main" in capsys.readouterr().out
    host = hosts.host("host1")
    text = (app / "deploytui.yml").read_text()
    text = text.replace("{address: CHANGE-ME.example, user: deploy,",
                        f"{{address: {host.address}, port: {host.port}, user: {hosts.user},")
    text = text.replace("deploy_to: /srv/sample ", "deploy_to: /srv/app ")  # the fleet's
    text = text.replace("  known_hosts: ~/.ssh/known_hosts",
                        f"  config: {hosts.ssh_config}\n  identity_file: {hosts.client_key}\n"
                        f"  known_hosts: {hosts.known_hosts}")
    (app / "deploytui.yml").write_text(text)
    assert main(["check", "--connect"]) == 0
    assert main(["deploy", "sample", "production"]) == 0  # named after the repo
    assert host.path("/srv/app/current").is_symlink()
    capsys.readouterr()
    assert main(["run", "sample", "production", "uptime"]) == 0  # the starter's named command
    assert "[web1] " in capsys.readouterr().out


def test_the_built_in_demo_needs_no_file() -> None:
    config = demo_config()
    assert config.path is None
    demo = config.projects["demo"]
    assert list(demo.environments) == ["staging", "production"]
    assert all(h.transport == "local" for e in demo.environments.values() for h in e.hosts)
    assert set(demo.commands) == {"version", "where"}
    # the same demo as config.example.yml's, which documents it key by key
    example = load_config(ROOT / "config.example.yml").projects["demo"]
    assert demo == example


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_deploytui_demo_opens_the_console_in_an_empty_directory_at_80x24(
        workdir: Path, tmp_path: Path) -> None:
    session, done = start_console(tmp_path, None, "demo", (80, 24), args="demo",
                                  cwd=workdir, env=f"XDG_CONFIG_HOME={tmp_path / 'xdg'}")
    try:
        screen = wait_for(session, "staging", "local1")
        assert "demo" in screen, screen
        tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 10
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists() and done.read_text().strip() == "0"
        assert list(workdir.iterdir()) == []  # no config file was needed, none was written
    finally:
        tmux("kill-session", "-t", session)
