"""`logs:` and `logs_command:` in the config, and `deploytui logs` refusing bad requests
in one line before connecting anything (no fleet needed: nothing is reached)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploytui.cli import main
from deploytui.config import ConfigError, load_config_text
from deploytui.engine.remote.logs import LogSources, is_journalctl, logs_script

BASE = """\
projects:
  app:
    repo: builtin:demo
    deploy_to: /srv/app
    roles:
      web:
        logs: [/var/log/app.log, log/*.log]
        logs_command: "journalctl -u uwsgi -o cat"
      worker: {restart: [echo ok]}
    environments:
      prod:
        hosts:
          web1: {address: 10.0.0.1, roles: [web]}
          work1: {address: 10.0.0.2, roles: [worker]}
"""


def test_roles_declare_log_files_and_a_log_command() -> None:
    role = load_config_text(BASE, "d.yml").projects["app"].roles["web"]
    assert role.logs == ("/var/log/app.log", "log/*.log")
    assert role.logs_command == "journalctl -u uwsgi -o cat"


@pytest.mark.parametrize(("value", "message"), [
    ("logs: /var/log/app.log", "d.yml:7: projects.app.roles.web.logs: expected a list of "
                               "strings, got '/var/log/app.log' (write [/var/log/app.log])"),
    ("logs: [~/app.log]", "d.yml:7: projects.app.roles.web.logs: ~ is not expanded on the "
                          "hosts, got '~/app.log'"),
    ("log: [/x]", "d.yml:7: projects.app.roles.web.log: unknown key 'log' (did you mean "
                  "'logs'?)"),
])
def test_a_wrong_logs_value_is_one_line_naming_file_line_and_key(value: str,
                                                                   message: str) -> None:
    text = BASE.replace("logs: [/var/log/app.log, log/*.log]", value)
    with pytest.raises(ConfigError) as err:
        load_config_text(text, "d.yml")
    assert str(err.value.problems[0]).startswith(message)


@pytest.mark.parametrize(("args", "says"), [
    (["--host", "web9"], "no host 'web9' in app/prod (hosts: web1, work1)"),
    (["--role", "db"], "no role 'db' in project app (roles: web, worker)"),
    (["--host", "work1"], "work1: no logs configured for its roles (worker)"),
    (["--role", "worker"], "no logs configured in app/prod"),
    (["--since", "yesterday"], "--since: expected a duration like 30s, 10m, 2h or 1d"),
    (["--grep", "a(b"], "--grep: not a valid regular expression"),
])
def test_a_request_naming_nothing_to_show_exits_2_in_one_line(
        args: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "deploytui.yml"
    config.write_text(BASE)
    assert main(["--config", str(config), "logs", "app", "prod", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"deploytui: {says}") and len(err.splitlines()) == 1


def test_journalctl_gets_the_lines_follow_and_since_asked_for() -> None:
    src = LogSources(commands=("sudo journalctl -u uwsgi -o cat",), cwd="/srv/app/current")
    script = logs_script(src, lines=20, follow=True, since=600)
    assert ("sudo journalctl -u uwsgi -o cat --no-pager -n 20 --since=-600s -f ) </dev/null &"
            in script)
    once = logs_script(src, lines=5, follow=False)
    assert "journalctl -u uwsgi -o cat --no-pager -n 5 ) </dev/null" in once
    assert is_journalctl("/bin/journalctl -u x") and not is_journalctl("docker logs app")


def test_every_configured_value_reaches_the_host_quoted() -> None:
    src = LogSources(files=("/var/log/it's here/*.log",), cwd="/srv/a b/current")
    script = logs_script(src, lines=3, follow=True, grep="a'b$(x)")
    assert "__dt_add '/var/log/it'\"'\"'s here/*.log'" in script
    assert "grep --line-buffered -E -e 'a'\"'\"'b$(x)'" in script
