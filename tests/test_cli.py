"""The command line's contract: options, exit statuses, and one line per problem on stderr.

`main(argv)` is called in-process (its return value is the exit status); a few tests
run `python -m deploytui` for real to see what a shell sees. No test may find a
traceback on stderr.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest

from deploytui import __version__
from deploytui.cli import _run_command, main
from deploytui.commands import EXIT_CANCELLED, EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_USAGE

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yml"

GOOD = """\
projects:
  shop:
    repo: git@github.com:acme/shop.git
    deploy_to: /var/www/shop
    roles: {web: {}, celery: {}}
    environments:
      training:
        hosts: {train1: {address: 192.0.2.1, roles: [web, celery]}}
      production:
        hosts: {web1: {address: 192.0.2.2, roles: [web]}}
  blog:
    repo: /srv/git/blog.git
    deploy_to: /srv/blog
    environments: {production: {hosts: {blog1: }}}
"""


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No config from the environment, the working directory or the user's directory."""
    monkeypatch.delenv("DEPLOYTUI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(dedent(text))
    return path


def run_module(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "deploytui", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=60, check=False)


def test_exit_statuses_are_the_documented_ones() -> None:
    assert (EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED, EXIT_CANCELLED) == (0, 1, 2, 3, 130)


# -- version and help --------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"deploytui {__version__}\n"
    assert __version__ == "0.1.0"


def test_python_dash_m_deploytui_version() -> None:
    result = run_module("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, "deploytui 0.1.0\n", "")


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("check", "deploy", "rollback", "releases", "prune", "history", "lock",
                    "unlock", "secret", "--config", "--theme", "--version"):
        assert command in out


def test_a_usage_error_exits_2_with_argparse_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "shop"]) == 2
    assert "the following arguments are required: ENV" in capsys.readouterr().err
    assert main(["prune", "shop", "production", "--keep", "0"]) == 2
    assert "must be at least 1, got 0" in capsys.readouterr().err


# -- check -------------------------------------------------------------------------------


def test_check_the_example_exits_0_without_warnings() -> None:
    result = run_module("check", "--config", "config.example.yml")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[0] == f"config: {EXAMPLE}"
    for project in ("demo", "shop", "storefront", "wiki"):
        assert f"\n{project}: " in result.stdout


def test_check_prints_strategy_repo_deploy_to_keep_and_hosts_with_roles(
        isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(isolated / "deploytui.yml", GOOD)
    assert main(["--config", str(config), "check"]) == 0
    assert capsys.readouterr().out == dedent(f"""\
        config: {config}

        shop: release git@github.com:acme/shop.git -> /var/www/shop (branch main, keep 5)
          training    1 host   train1  web, celery  192.0.2.1
          production  1 host   web1    web          192.0.2.2

        blog: release /srv/git/blog.git -> /srv/blog (branch main, keep 5)
          production  1 host   blog1  -  blog1
        """)


def test_check_one_project_and_one_environment(
        isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(isolated / "deploytui.yml", GOOD)
    assert main(["check", "shop", "production", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "web1" in out
    assert "train1" not in out
    assert "blog" not in out


def test_check_an_unknown_project_is_one_line(
        isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(isolated / "deploytui.yml", GOOD)
    assert main(["check", "shp", "--config", str(config)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"deploytui: no project 'shp' in {config} (projects: shop, blog)\n"
    assert captured.out == ""


def test_an_unknown_environment_is_one_line(
        isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(isolated / "deploytui.yml", GOOD)
    assert main(["--config", str(config), "deploy", "shop", "prod"]) == 2
    assert capsys.readouterr().err == (
        f"deploytui: no environment 'prod' in project 'shop' of {config} "
        "(environments: training, production)\n")




# -- config problems and warnings on stderr ----------------------------------------------


def test_config_problems_one_per_line_exit_2(
        isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(isolated / "bad.yml", """\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
            keep_releases: five
            environments:
              production:
                hosts:
                  web1: {roles: [wbe]}
        """)
    assert main(["check", "--config", str(config)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"{config}:5: projects.shop.keep_releases: expected a whole number, got 'five'",
        f"{config}:9: projects.shop.environments.production.hosts.web1.roles: "
        "role 'wbe' is not defined in projects.shop.roles (no roles are defined)",
    ]


def test_warnings_are_printed_once_and_do_not_fail(
        isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(isolated / "deploytui.yml", GOOD.replace(
        "    deploy_to: /var/www/shop\n", "    deploy_to: /var/www/shop\n    sudo_password: x\n"))
    assert main(["check", "--config", str(config)]) == 0
    assert capsys.readouterr().err == (
        f"warning: {config}:5: projects.shop.sudo_password: secret written in clear; "
        "use {secret: NAME} and 'deploytui secret set NAME'\n")


def test_bad_input_through_the_real_command_never_shows_a_traceback(isolated: Path) -> None:
    write(isolated / "syntax.yml", "projects: [\n")
    (isolated / "a-directory.yml").mkdir()
    for name, expected in (("syntax.yml", "syntax.yml:2:1: YAML syntax error"),
                           ("a-directory.yml", "a-directory.yml: cannot read: it is a directory"),
                           ("missing.yml", "missing.yml: no such file (from --config)")):
        result = run_module("check", "--config", name, cwd=isolated)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(expected), result.stderr
        assert len(result.stderr.splitlines()) == 1


# -- where the config comes from ---------------------------------------------------------


def test_no_config_anywhere(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deploytui: no config file found (looked for --config, "
                          "$DEPLOYTUI_CONFIG, ./deploytui.yml, ")
    assert len(err.splitlines()) == 1


def test_the_variable_is_used_before_the_working_directory(
        isolated: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    write(Path("deploytui.yml"), GOOD)
    assert main(["check"]) == 0
    assert capsys.readouterr().out.startswith("config: ")
    other = write(isolated / "other.yml", GOOD)
    monkeypatch.setenv("DEPLOYTUI_CONFIG", str(other))
    assert main(["check"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"config: {other}"


def test_config_option_before_or_after_the_command(
        isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(isolated / "x.yml", GOOD)
    assert main(["--config", str(config), "check"]) == 0
    assert main(["check", "--config", str(config)]) == 0
    outs = capsys.readouterr().out.split("config: ")
    assert outs[1] == outs[2]


# -- commands other engineers are still writing ------------------------------------------


def test_a_command_whose_module_does_not_exist_yet(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(command="no-such-command")
    assert _run_command(args, None) == 2
    assert capsys.readouterr().err == "deploytui: 'no-such-command' is not available yet\n"
