"""docs/ci.md is true: the GitHub Actions step and the Jenkins stage it shows are run
exactly as written, the way a CI runner runs them (a subprocess, stdin from /dev/null,
no terminal, CI=true, an empty HOME, secrets only in the environment), against the sshd
fleet — and a colleague's deploy in progress is waited for, not failed on."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from fleet import Fleet
from webhook_server import Webhook

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "ci.md").read_text()
API_TOKEN = "ci-api-token-5d81e2"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC, re.S)


def github_step() -> tuple[dict[str, str], str]:
    """The env names and the script of the workflow's Deploy step."""
    workflow = next(yaml.safe_load(b) for b in blocks("yaml") if "jobs:" in b)
    step = next(s for s in workflow["jobs"]["deploy"]["steps"] if s.get("name") == "Deploy")
    assert workflow["jobs"]["deploy"]["needs"] == "test"
    return step["env"], step["run"]


def jenkins_stage() -> tuple[dict[str, str], str]:
    """The Deploy stage's environment names and its `sh '''…'''` script."""
    groovy = next(b for b in blocks("groovy") if "pipeline" in b)
    stage = groovy[groovy.index("stage('Deploy')"):]
    names = dict(re.findall(r"^\s+([A-Z_]+) = (.+)$", stage, re.M))
    script = re.search(r"sh '''\n(.*?)'''", stage, re.S)
    assert script is not None
    return names, script.group(1)


def ci_config(hosts: Fleet, hook: Webhook) -> dict:
    """docs/ci.md's deploytui.yml, aimed at the fleet."""
    data = hosts.config(2, project="shop", env="production", roles={"web": {"restart": [
        "printenv API_TOKEN > $HOME/api-token", "echo token $API_TOKEN in place"]}})
    shop = data["projects"]["shop"]
    shop["env"] = {"API_TOKEN": {"secret": "api-token"}}
    shop["environments"]["production"]["confirm"] = True
    data["notify"] = [{"url": {"secret": "slack-webhook"}, "format": "slack"}]
    del data["ssh"]["identity_file"]
    data["ssh"]["key"] = {"secret": "deploy-key"}  # the key's text, never a file
    return data


def runner_env(hosts: Fleet, tmp_path: Path, names: dict[str, str], hook: Webhook
               ) -> dict[str, str]:
    """What a runner's process sees: PATH to the installed tool, an empty home, CI=true
    and each secret the doc names, nothing of this machine's environment."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    values = {"DEPLOYTUI_SECRET_DEPLOY_KEY": hosts.client_key.read_text(),
              "DEPLOYTUI_SECRET_API_TOKEN": API_TOKEN,
              "DEPLOYTUI_SECRET_SLACK_WEBHOOK": hook.url("/services/T0/B0/ci-hook-tok"),
              "DEPLOYTUI_SECRET_DEPLOYTUI_ENV_KEY": "ci-team-env-key-7f3a",
              "DEPLOYTUI_SECRETS_COMMAND": ""}
    assert set(names) - {"CI"} == set(values), "docs/ci.md names other secrets"
    return {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(home),
            "CI": "true", "LANG": "C.UTF-8", **values}


def run_ci(script: str, workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-e", "-c", script], cwd=workdir, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=50, start_new_session=True)  # no controlling terminal


@pytest.fixture
def hook():
    server = Webhook()
    yield server
    server.stop()


def sample_sha(hosts: Fleet) -> str:
    return subprocess.run(["git", "-C", str(hosts.repo_dir), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("ci", ["github", "jenkins"])
def test_the_documented_ci_step_deploys_after_the_tests_with_secrets_from_the_environment(
        hosts: Fleet, tmp_path: Path, hook: Webhook, ci: str) -> None:
    names, script = github_step() if ci == "github" else jenkins_stage()
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    hosts.write_config(workdir / "deploytui.yml", ci_config(hosts, hook))
    env = runner_env(hosts, tmp_path, names, hook)
    sha = sample_sha(hosts)
    env["GITHUB_SHA" if ci == "github" else "GIT_COMMIT"] = sha

    done = run_ci(script, workdir, env)

    assert done.returncode == 0, done.stderr
    result = json.loads((workdir / "deploy.json").read_text())
    assert (result["outcome"], result["exit_status"], result["sha"]) == ("success", 0, sha)
    assert set(result["hosts"]) == {"host1", "host2"}
    assert all(h["outcome"] == "deployed" for h in result["hosts"].values())
    for host in hosts.hosts[:2]:
        assert host.path("/home/deployer/api-token").read_text() == API_TOKEN + "\n"
        assert host.path("/srv/app/current").readlink().name == result["release"]
    assert "token **** in place" in done.stderr  # progress on stderr, redacted
    texts = [m["text"] for m in hook.wait_for(2)]  # the chat heard it
    assert " is deploying shop/production " in texts[0]
    assert " deployed shop/production " in texts[1]
    output = done.stdout + done.stderr + (workdir / "deploy.json").read_text()
    assert API_TOKEN not in output and "ci-hook-tok" not in output
    assert "Traceback" not in done.stderr


def test_the_ci_deploy_waits_for_a_colleagues_deploy_instead_of_failing(
        hosts: Fleet, tmp_path: Path, hook: Webhook) -> None:
    names, script = github_step()
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    hosts.write_config(workdir / "deploytui.yml", ci_config(hosts, hook))
    env = runner_env(hosts, tmp_path, names, hook)
    env["GITHUB_SHA"] = sample_sha(hosts)
    hosts.hosts[0].set_marker("slow-build", "4")  # the colleague's deploy takes a while
    colleague_home = tmp_path / "colleague"
    colleague_home.mkdir()
    colleague = subprocess.Popen(
        [sys.executable, "-m", "deploytui", "--config", str(workdir / "deploytui.yml"),
         "deploy", "shop", "production", "--yes"], cwd=workdir,
        env={**env, "HOME": str(colleague_home), "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert colleague.stdout is not None
    seen: list[str] = []
    holding = threading.Event()

    def read() -> None:
        for line in colleague.stdout:  # type: ignore[union-attr]
            seen.append(line)
            if "slow mirror" in line:
                holding.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert holding.wait(30), "".join(seen)
        hosts.hosts[0].clear_markers()
        began = time.monotonic()
        done = run_ci(script, workdir, env)
        assert colleague.wait(30) == 0, "".join(seen)
    finally:
        if colleague.poll() is None:
            colleague.kill()
    assert done.returncode == 0, done.stderr
    assert "waiting up to 600s for the lock held by" in done.stderr
    # the colleague shipped this very commit: once the lock is free there is nothing to do
    assert json.loads((workdir / "deploy.json").read_text())["outcome"] == "unchanged"
    assert time.monotonic() - began < 45
