"""Config for a deploy that proves itself: health, rollout, on_unhealthy and hooks.

Each mistake is one line `FILE:LINE: key.path: what`; the YAML is written out in full
so the line numbers can be counted by eye.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest

from deploytui.config import ConfigError, load_config_text
from deploytui.config.model import HealthCheck, Hooks, Rollout

FILE = "deploytui.yml"

GOOD = """\
projects:
  shop:
    repo: git@github.com:acme/shop.git
    deploy_to: /var/www/shop
    on_unhealthy: keep
    hooks:
      before_deploy: [./ci-is-green.sh]
      after_deploy: [./sentry-release.sh]
    roles:
      web:
        restart: [sudo systemctl restart shop]
        health: {url: "http://{address}:8000/up", status: [200, 299], timeout: 5, interval: 0.5}
      worker:
        health: {command: "systemctl is-active {name}", status: 200}
      plain: {}
    environments:
      production:
        on_unhealthy: rollback
        rollout: {canary: 1, batch: "25%", pause: 10}
        hosts:
          web1: {roles: [web]}
          web2: {roles: [web, worker]}
      staging:
        rollout: {batch: 2}
        hosts:
          s1: {roles: [web]}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config_text(dedent(text), FILE)
    return [str(p) for p in caught.value.problems]


def test_health_rollout_on_unhealthy_and_hooks_are_read() -> None:
    shop = load_config_text(GOOD, FILE).projects["shop"]
    assert shop.roles["web"].health == HealthCheck(url="http://{address}:8000/up",
                                                   status=(200, 299), timeout=5, interval=0.5)
    assert shop.roles["worker"].health == HealthCheck(command="systemctl is-active {name}",
                                                      status=(200, 200))
    assert shop.roles["plain"].health is None
    assert shop.hooks == Hooks(before_deploy=("./ci-is-green.sh",),
                               after_deploy=("./sentry-release.sh",))
    production, staging = shop.environments["production"], shop.environments["staging"]
    assert production.rollout == Rollout(canary=1, batch_percent=25, pause=10)
    assert staging.rollout == Rollout(batch=2)
    assert shop.on_unhealthy_in(production) == "rollback"
    assert shop.on_unhealthy_in(staging) == "keep"


def test_the_defaults_check_nothing_roll_back_and_switch_every_host_at_once() -> None:
    text = GOOD.replace("    on_unhealthy: keep\n", "").replace(
        "        rollout: {batch: 2}\n", "")
    shop = load_config_text(text, FILE).projects["shop"]
    assert shop.on_unhealthy == "rollback"
    assert shop.environments["staging"].rollout is None
    assert HealthCheck(url="http://x/").status == (200, 399)
    assert (HealthCheck(url="http://x/").timeout, HealthCheck(url="http://x/").interval) == (30, 1)


BAD = """\
projects:
  shop:
    repo: git@github.com:acme/shop.git
    deploy_to: /var/www/shop
    on_unhealthy: revert
    hooks:
      before_deploy: [./ci.sh]
      after_deplyo: [./x.sh]
    roles:
      both: {health: {url: "http://{address}/", command: "true"}}
      neither: {health: {timeout: 3}}
      typo: {health: {url: "http://{adress}:8000/up"}}
      code: {health: {url: "http://{address}/", status: 700}}
      low: {health: {command: "true", status: [99, 200]}}
      tcp: {health: {url: "tcp://{address}:5432"}}
    environments:
      production:
        rollout: {canary: 3, batch: 0}
        hosts:
          web1: {roles: [both]}
          web2: {roles: [both]}
      staging:
        on_unhealthy: maybe
        rollout: {batch: "150%", pause: -1}
        hosts:
          s1: {roles: [both]}
      qa:
        rollout: {batch: "0%"}
        hosts:
          q1: {roles: [both]}
"""


def test_every_bad_input_is_one_located_line() -> None:
    assert problems(BAD) == [
        f"{FILE}:5: projects.shop.on_unhealthy: unknown on_unhealthy 'revert' "
        "(valid: rollback, keep)",
        f"{FILE}:8: projects.shop.hooks.after_deplyo: unknown key 'after_deplyo' "
        "(did you mean 'after_deploy'?)",
        f"{FILE}:10: projects.shop.roles.both.health: give either url or command, not both",
        f"{FILE}:11: projects.shop.roles.neither.health: missing url (an HTTP check) or "
        "command (a command on the host; healthy = exit 0)",
        f"{FILE}:12: projects.shop.roles.typo.health.url: unknown placeholder '{{adress}}' "
        "(known: {address} {name})",
        f"{FILE}:13: projects.shop.roles.code.health.status: must be an HTTP status between "
        "100 and 599, got 700",
        f"{FILE}:14: projects.shop.roles.low.health.status: must be an HTTP status between "
        "100 and 599, got 99",
        f"{FILE}:15: projects.shop.roles.tcp.health.url: expected an http:// or https:// URL "
        "such as 'http://{address}:8000/up', got 'tcp://{address}:5432'",
        f"{FILE}:18: projects.shop.environments.production.rollout.canary: 3 canary hosts, "
        "but the environment has 2",
        f"{FILE}:18: projects.shop.environments.production.rollout.batch: must be at least "
        "1 host, got 0",
        f"{FILE}:23: projects.shop.environments.staging.on_unhealthy: unknown on_unhealthy "
        "'maybe' (valid: rollback, keep)",
        f"{FILE}:24: projects.shop.environments.staging.rollout.batch: must be between 1% "
        "and 100%, got 150%",
        f"{FILE}:24: projects.shop.environments.staging.rollout.pause: must be 0 or more, "
        "got -1",
        f"{FILE}:28: projects.shop.environments.qa.rollout.batch: must be between 1% and "
        "100%, got 0%",
    ]


def test_deploytui_check_prints_the_lines_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "deploytui.yml"
    path.write_text(BAD)
    done = subprocess.run([sys.executable, "-m", "deploytui.cli", "--config", str(path),
                           "check"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert f"{path}:10: projects.shop.roles.both.health: give either url or command" \
        in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_a_staged_rollout_is_refused_for_a_pull_project_not_silently_ignored() -> None:
    pull = """\
    projects:
      shop:
        repo: git@github.com:acme/shop.git
        deploy_to: /var/www/shop
        strategy: pull
        environments:
          production:
            rollout: {canary: 1}
            hosts:
              web1: {}
              web2: {}
    """
    assert problems(pull) == [
        f"{FILE}:8: projects.shop.environments.production.rollout: strategy pull moves "
        "every host's working copy at once and cannot stage it; use strategy release (or "
        "artifact) for a canary/batch rollout, or remove rollout",
    ]
