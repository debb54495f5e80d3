"""Freezes: configured windows and the ad-hoc freeze on the hosts refuse a deploy or a
catch-up before anything changes; --force-freeze overrides and says so everywhere; a
rollback goes ahead and its record says it ran in a freeze (real sshd fleet, real HTTP)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fleet import Fleet

from deploytui.cli import main
from deploytui.config import ConfigError, load_config_text
from deploytui.engine.operations.deploy import DeployRequest, run_deploy
from deploytui.engine.operations.deploy.catch_up import CatchUpRefused, run_catch_up
from deploytui.engine.operations.rollback import run_rollback
from deploytui.history import list_entries

APP = "/srv/app"
LOG = f"{APP}/.deploytui/fleet.log"
NOW = datetime.now(UTC)
WINDOW = {"from": (NOW - timedelta(hours=1)).isoformat(),
          "to": (NOW + timedelta(hours=2)).isoformat(), "reason": "year-end audit"}


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def records(host) -> list[dict]:
    path = host.path(LOG)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write(fleet: Fleet, tmp_path: Path, n: int = 2, freeze: list | None = None,
          notify: str | None = None) -> Path:
    data = fleet.config(n)
    if freeze is not None:
        data["projects"]["app"]["environments"]["prod"]["freeze"] = freeze
    if notify:
        data["notify"] = [{"url": notify, "format": "json"}]
    return fleet.write_config(tmp_path / "deploytui.yml", data)


def test_a_deploy_in_a_configured_window_is_refused_before_any_host_is_touched(
        hosts: Fleet, tmp_path: Path, capsys):
    path = write(hosts, tmp_path, freeze=[WINDOW])
    assert main(["--config", str(path), "deploy", "app", "prod"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("deploytui: deploy refused: app/prod is frozen: year-end audit;"
                          " the freeze ends ")
    assert "--force-freeze" in err and err.count("\n") == 0
    assert all(h.connections() == 0 for h in hosts.hosts[:2])
    assert not hosts.hosts[0].path(f"{APP}/.deploytui").exists()
    # the engine refuses the same way (the console's path): nothing sent, no event
    config = load_config_text(path.read_text())
    project = config.projects["app"]
    result = run_deploy(config, DeployRequest(project, project.environments["prod"]))
    assert result.outcome == "failed" and "is frozen: year-end audit" in result.error
    assert all(h.connections() == 0 for h in hosts.hosts[:2])
    with pytest.raises(CatchUpRefused, match="frozen: year-end audit"):
        run_catch_up(config, "app", "prod")


class Hook:
    """A real local HTTP server collecting webhook bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hook.bodies.append(json.loads(self.rfile.read(
                    int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_force_freeze_deploys_and_the_override_is_in_the_record_journal_and_message(
        hosts: Fleet, tmp_path: Path, capsys):
    hook = Hook()
    try:
        path = write(hosts, tmp_path, freeze=[WINDOW], notify=hook.url)
        assert main(["--config", str(path), "deploy", "app", "prod", "--force-freeze"]) == 0
    finally:
        hook.close()
    assert "override: force-freeze" in capsys.readouterr().out
    for host in hosts.hosts[:2]:
        (line,) = records(host)
        assert line["forced"] == ["force-freeze"] and line["outcome"] == "success"
        assert line["freeze"].startswith("year-end audit (until ")
    (entry,) = list_entries("app", "prod")
    assert entry.forced == ("force-freeze",) and entry.freeze.startswith("year-end audit")
    assert entry.op_id == records(hosts.hosts[0])[0]["id"]
    success = next(b for b in hook.bodies if b["event"] == "success")
    assert success["forced"] == ["force-freeze"]
    assert success["freeze"].startswith("year-end audit")


def test_a_rollback_in_a_freeze_goes_ahead_and_its_record_says_so(hosts: Fleet,
                                                                 tmp_path: Path):
    unfrozen = load_config_text(write(hosts, tmp_path).read_text())
    project = unfrozen.projects["app"]
    for rid in ("20240101000001", "20240101000002"):
        request = DeployRequest(project, project.environments["prod"], release_id=rid)
        assert run_deploy(unfrozen, request).outcome == "success"
    frozen = load_config_text(write(hosts, tmp_path, freeze=[WINDOW]).read_text())
    result = run_rollback(frozen, "app", "prod")
    assert result.ok, result.error
    last = records(hosts.hosts[0])[-1]
    assert last["operation"] == "rollback" and last["release"] == "20240101000001"
    assert last["freeze"].startswith("year-end audit") and last["forced"] == []


def test_an_ad_hoc_freeze_on_the_hosts_refuses_every_operators_deploy_until_unfrozen(
        hosts: Fleet, tmp_path: Path, capsys):
    path = write(hosts, tmp_path)
    assert main(["--config", str(path), "freeze", "app", "prod", "--until", "2h",
                 "--reason", "incident 4711"]) == 0
    assert "froze app/prod on 2 host(s)" in capsys.readouterr().out
    for host in hosts.hosts[:2]:
        stored = json.loads(host.path(f"{APP}/.deploytui/freeze").read_text())
        assert stored["reason"] == "incident 4711" and stored["until"].endswith("Z")
    assert main(["--config", str(path), "deploy", "app", "prod"]) == 1
    err = capsys.readouterr().err
    assert "app/prod is frozen: incident 4711; the freeze ends" in err
    assert "(set by " in err and "--force-freeze" in err
    for host in hosts.hosts[:2]:
        assert not host.path(f"{APP}/.deploytui/lock").exists()  # released
        assert not host.path(f"{APP}/releases").exists()  # nothing prepared
    refused = records(hosts.hosts[0])[-1]
    assert refused["operation"] == "deploy" and refused["outcome"] == "failed"
    assert "is frozen: incident 4711" in refused["error"]
    assert main(["--config", str(path), "unfreeze", "app", "prod"]) == 0
    out = capsys.readouterr().out
    assert "removed the freeze set by" in out and "incident 4711" in out
    assert not hosts.hosts[0].path(f"{APP}/.deploytui/freeze").exists()
    assert main(["--config", str(path), "deploy", "app", "prod"]) == 0
    assert [r["operation"] for r in records(hosts.hosts[1])] == [
        "freeze", "deploy", "unfreeze", "deploy"]


def test_an_expired_ad_hoc_freeze_refuses_nothing(hosts: Fleet, tmp_path: Path):
    config = load_config_text(write(hosts, tmp_path).read_text())
    from deploytui.engine.operations.freeze import set_freeze

    assert set_freeze(config, "app", "prod", until=datetime.now(UTC) + timedelta(seconds=1),
                      reason="short").ok
    project = config.projects["app"]
    import time

    time.sleep(1.5)
    assert run_deploy(config, DeployRequest(project, project.environments["prod"])
                      ).outcome == "success"


def test_freeze_until_must_be_a_time_or_a_duration_in_the_future(hosts: Fleet,
                                                                tmp_path: Path, capsys):
    path = write(hosts, tmp_path)
    assert main(["--config", str(path), "freeze", "app", "prod", "--until", "soon",
                 "--reason", "x"]) == 2
    assert "--until: expected an ISO time" in capsys.readouterr().err
    assert main(["--config", str(path), "freeze", "app", "prod", "--until",
                 "2001-01-01T00:00:00Z", "--reason", "x"]) == 2
    assert "is in the past" in capsys.readouterr().err
    assert all(h.connections() == 0 for h in hosts.hosts[:2])


# -- the windows, without a host ---------------------------------------------------------

def _env(freeze_yaml: str):
    text = ("projects:\n  app:\n    repo: /srv/repo\n    deploy_to: /srv/app\n"
            "    environments:\n      prod:\n        hosts: {a: {address: a}}\n"
            f"        freeze:\n{freeze_yaml}")
    return load_config_text(text, "deploytui.yml").projects["app"].environments["prod"]


def test_a_weekly_window_wraps_the_weekend_in_its_own_zone_across_a_clock_change():
    env = _env('          - {weekly: {from: "Fri 16:00", to: "Mon 08:00"},'
               ' tz: Europe/Berlin, reason: weekend}\n')
    (window,) = env.freeze
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-10-25: Berlin leaves summer time; the window still ends Monday 08:00 local
    saturday = datetime(2026, 10, 24, 12, 0, tzinfo=berlin)
    ends = window.ends(saturday)
    assert ends == datetime(2026, 10, 26, 8, 0, tzinfo=berlin)
    assert ends.utcoffset() == timedelta(hours=1)
    assert window.ends(datetime(2026, 10, 23, 15, 59, tzinfo=berlin)) is None
    assert window.ends(datetime(2026, 10, 23, 16, 0, tzinfo=berlin)) is not None
    assert window.ends(datetime(2026, 10, 26, 8, 0, tzinfo=berlin)) is None
    assert window.ends(datetime(2026, 10, 21, 12, 0, tzinfo=berlin)) is None


def test_a_one_off_window_without_an_offset_is_read_in_its_zone():
    env = _env('          - {from: "2026-12-23T18:00", to: "2027-01-04T08:00",'
               ' tz: America/New_York, reason: holidays}\n')
    (window,) = env.freeze
    assert window.start == datetime(2026, 12, 23, 23, 0, tzinfo=UTC)
    assert window.ends(datetime(2026, 12, 24, tzinfo=UTC)) == window.end


@pytest.mark.parametrize(("entry", "message"), [
    ('{weekly: {from: "Fry 16:00", to: "Mon 08:00"}, reason: x}',
     "deploytui.yml:9: projects.app.environments.prod.freeze[0].weekly.from: expected a day"
     " and a time such as 'Fri 16:00', got 'Fry 16:00'"),
    ('{from: "2026-12-24", to: "2026-12-23", reason: x}',
     "deploytui.yml:9: projects.app.environments.prod.freeze[0].to: must be after from"),
    ('{from: "2026-12-24"}',
     "deploytui.yml:9: projects.app.environments.prod.freeze[0]: missing required key"
     " 'reason'"),
    ('{weekly: {from: "Fri 16:00", to: "Mon 08:00"}, tz: Mars/Olympus, reason: x}',
     "deploytui.yml:9: projects.app.environments.prod.freeze[0].tz: unknown time zone"
     " 'Mars/Olympus' (an IANA name such as Europe/Berlin or UTC)"),
])
def test_a_bad_window_is_one_line_naming_file_line_and_key(entry: str, message: str):
    with pytest.raises(ConfigError) as caught:
        _env(f"          - {entry}\n")
    assert [str(p) for p in caught.value.problems] == [message]


def test_a_catch_up_is_refused_by_the_ad_hoc_freeze_unless_forced(hosts: Fleet,
                                                                 tmp_path: Path):
    from deploytui.engine.operations.freeze import set_freeze

    config = load_config_text(write(hosts, tmp_path).read_text())
    project = config.projects["app"]
    request = DeployRequest(project, project.environments["prod"], exclude=("host2",))
    assert run_deploy(config, request).outcome == "success"
    assert set_freeze(config, "app", "prod", until=datetime.now(UTC) + timedelta(hours=1),
                      reason="incident 4711").ok
    refused = run_catch_up(config, "app", "prod")
    assert refused.deploy is not None and refused.deploy.outcome == "failed"
    assert "is frozen: incident 4711" in refused.deploy.error
    assert not hosts.hosts[1].path(f"{APP}/current").exists()  # still behind
    forced = run_catch_up(config, "app", "prod", force_freeze=True)
    assert forced.ok, forced.error
    assert forced.deploy is not None and forced.deploy.forced == ["force-freeze"]
    last = records(hosts.hosts[1])[-1]
    assert last["operation"] == "catch-up" and last["forced"] == ["force-freeze"]
    assert last["freeze"].startswith("incident 4711")
