"""Messages that say what ships: a real deploy on the fleet tells Slack, Teams, Discord, a
JSON endpoint (real HTTP servers on 127.0.0.1) and a local command which commits it
brings since the release it replaces, with a compare link for a GitHub/GitLab repo, each
in the shape its service documents, and the webhook's secret URL nowhere."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fleet import Fleet
from webhook_server import Webhook

from deploytui.commands.sinks import build_sinks
from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.config.secrets import SecretResolver
from deploytui.engine.events import Recorder
from deploytui.engine.operations.deploy import DeployRequest, run_deploy
from deploytui.engine.operations.repo_links import compare_url, web_repo
from deploytui.engine.operations.rollback import run_rollback

REMOTE = "git@github.com:acme/shop.git"
HOOK_TOKEN = "/hooks/T0KEN-9c3f-very-secret"


def git(repo: Path, *args: str, author: str = "Ann Example") -> str:
    env = {"GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": "dev@example.com",
           "HOME": str(repo.parent), "GIT_CONFIG_GLOBAL": "/dev/null"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def commit(repo: Path, subject: str, author: str) -> str:
    (repo / "log.txt").open("a").write(subject + "\n")
    git(repo, "add", "log.txt", author=author)
    git(repo, "commit", "-q", "-m", subject, author=author)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def github_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real repo that this machine's git reaches as git@github.com:acme/shop.git
    (an `insteadOf` rewrite, as a user's gitconfig may carry one): the artifact strategy
    builds here, so the hosts never need to reach it."""
    repo = tmp_path / "shop"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "first", "Ann Example")
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(f'[url "file://{repo}"]\n\tinsteadOf = {REMOTE}\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    return repo


def shop_config(hosts: Fleet, notify: list[dict]) -> Config:
    data = hosts.config(2, repo=REMOTE, strategy="artifact", build=[],
                        roles={"web": {"restart": ["true"]}})
    data["notify"] = notify
    return load_config_text(json.dumps(data), "team.yml")


def deploy(config: Config, resolver: SecretResolver) -> tuple[Recorder, str]:
    printed = Recorder()
    sink, close = build_sinks(config, project="app", environment="prod", operation="deploy",
                              printer=printed, resolver=resolver)
    project = config.projects["app"]
    try:
        result = run_deploy(config, DeployRequest(project, project.environments["prod"],
                                                  user="ann@laptop"),
                            sink=sink, resolver=resolver)
    finally:
        close()
    assert result.outcome == "success", result.error
    return printed, result.sha


def test_every_format_says_which_commits_ship_with_a_compare_link_and_no_secret(
        hosts: Fleet, github_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    hooks = {name: Webhook() for name in ("slack", "teams", "discord", "json")}
    got = tmp_path / "command-got.jsonl"
    try:
        monkeypatch.setenv("DEPLOYTUI_SECRET_TEAM_HOOK", hooks["slack"].url(HOOK_TOKEN))
        notify = [{"url": {"secret": "team-hook"}, "format": "slack", "on": ["start",
                                                                           "success"]},
                  *({"url": hooks[f].url(f"/{f}"), "format": f, "on": ["success", "rollback"]}
                    for f in ("teams", "discord", "json")),
                  {"command": f"cat >> {got}; echo >> {got}", "on": ["success"]}]
        config = shop_config(hosts, notify)
        resolver = SecretResolver()
        deploy(config, resolver)  # the first release: nothing to compare with
        first = hooks["json"].wait_for(1)[0]["changes"]
        assert (first["from"], first["direction"], first["commits"]) == (None, "unknown", [])
        old = git(github_repo, "rev-parse", "HEAD")
        for n in range(12):
            commit(github_repo, f"change {n} <b>&</b>", "Bob Builder" if n % 2 else "Ann Example")
        printed, new = deploy(config, resolver)

        # the generic JSON: the documented `changes` object
        msg = hooks["json"].wait_for(2)[1]
        changes = msg["changes"]
        assert (changes["from"], changes["to"], changes["direction"]) == (old, new, "forward")
        assert (changes["total"], changes["more"], len(changes["commits"])) == (12, 2, 10)
        assert changes["commits"][0]["subject"] == "change 11 <b>&</b>"
        assert changes["commits"][0]["author"] == "Bob Builder"
        assert changes["commits"][-1]["subject"] == "change 2 <b>&</b>"
        assert changes["compare_url"] == f"https://github.com/acme/shop/compare/{old}...{new}"

        # Slack: text + Block Kit sections, mrkdwn escaped, the link in a context block
        start, done = hooks["slack"].wait_for(4)[2:4]
        assert start["text"].startswith("ann@laptop is deploying app/prod main")
        assert [b["type"] for b in done["blocks"]] == ["section", "section", "section",
                                                       "context"]
        listing = done["blocks"][2]["text"]["text"].splitlines()
        assert listing[0] == f"*12 commits since {old[:8]}*"
        assert listing[1].startswith("• `") and listing[1].endswith(
            " change 11 &lt;b&gt;&amp;&lt;/b&gt; — Bob Builder")
        assert listing[-1] == "… and 2 more"
        assert done["blocks"][3]["elements"][0]["text"] == (
            f"<{changes['compare_url']}|Compare on the web>")

        # Teams: a message with one Adaptive Card attachment, the link an OpenUrl action
        [card_msg] = hooks["teams"].wait_for(2)[1:]
        assert card_msg["type"] == "message"
        [attachment] = card_msg["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = attachment["content"]
        assert (card["type"], card["version"]) == ("AdaptiveCard", "1.2")
        assert [b["type"] for b in card["body"]] == ["TextBlock", "FactSet", "TextBlock",
                                                     "TextBlock"]
        commits = card["body"][3]["text"].splitlines()
        assert sum(line.startswith("- ") for line in commits) == 10
        assert commits[-1] == "… and 2 more"
        assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Compare",
                                    "url": changes["compare_url"]}]

        # Discord: content + one embed, linked, and no mention can ping anyone
        [disc] = hooks["discord"].wait_for(2)[1:]
        assert disc["content"].startswith("ann@laptop deployed app/prod main")
        [embed] = disc["embeds"]
        assert embed["url"] == changes["compare_url"]
        assert embed["description"].splitlines()[0] == f"**12 commits since {old[:8]}**"
        assert disc["allowed_mentions"] == {"parse": []}
        assert {f["name"] for f in embed["fields"]} >= {"Project", "Release", "By"}

        # command: the same JSON on stdin
        lines = [json.loads(line) for line in got.read_text().splitlines() if line]
        assert lines[-1]["changes"] == changes and lines[-1]["event"] == "success"

        # the secret URL: used, never shown
        assert HOOK_TOKEN in hooks["slack"].paths[-1]
        everything = json.dumps([h.received for h in hooks.values()]) + repr(printed.events)
        everything += "".join(p.read_text(errors="replace") for p in
                              (tmp_path / "data").rglob("*") if p.is_file())
        assert "T0KEN-9c3f" not in everything

        # a rollback says what it takes back, from the local mirror (no fetch)
        rolled = Recorder()
        sink, close = build_sinks(config, project="app", environment="prod",
                                  operation="rollback", printer=rolled, resolver=resolver)
        try:
            assert run_rollback(config, "app", "prod", sink=sink, resolver=resolver).ok
        finally:
            close()
        back = hooks["json"].wait_for(3)[2]
        assert (back["event"], back["changes"]["direction"]) == ("rollback", "back")
        assert (back["changes"]["from"], back["changes"]["to"]) == (new, old)
        assert back["changes"]["total"] == 12
        assert back["changes"]["compare_url"] == (
            f"https://github.com/acme/shop/compare/{old}...{new}")
    finally:
        for hook in hooks.values():
            hook.stop()


def test_a_failing_command_target_is_one_warning_and_the_deploy_still_succeeds(
        hosts: Fleet, github_repo: Path) -> None:
    config = shop_config(hosts, [{"command": "echo 'chat relay: 401 unauthorized' >&2; "
                                             "exit 3", "on": ["start", "success"]}])
    printed, _ = deploy(config, SecretResolver())
    warnings = [e.line for e in printed.lines() if e.host == "notify"]
    assert warnings == ["notify command `echo` failed (exit 3): chat relay: 401 unauthorized"] * 2


@pytest.mark.parametrize(("remote", "link"), [
    ("git@github.com:acme/shop.git", "https://github.com/acme/shop/compare/a1...b2"),
    ("ssh://git@gitlab.com/group/sub/app.git",
     "https://gitlab.com/group/sub/app/-/compare/a1...b2"),
    ("ssh://git@gitlab.example.com:2222/ops/app.git",
     "https://gitlab.example.com/ops/app/-/compare/a1...b2"),
    ("https://github.com/acme/shop", "https://github.com/acme/shop/compare/a1...b2"),
    ("https://oauth2:glpat-SECRET@gitlab.com/acme/shop.git",
     "https://gitlab.com/acme/shop/-/compare/a1...b2"),
    ("https://github.acme.internal:8443/acme/shop.git",
     "https://github.acme.internal:8443/acme/shop/compare/a1...b2"),
    ("git@bitbucket.org:acme/shop.git", ""),
    ("/srv/git/shop.git", ""),
    ("builtin:demo", ""),
])
def test_a_compare_link_comes_from_the_remote_url_and_never_carries_its_credentials(
        remote: str, link: str) -> None:
    assert compare_url(remote, "a1", "b2") == link


def test_no_compare_link_without_a_previous_commit() -> None:
    assert web_repo(REMOTE) == ("github", "https://github.com/acme/shop")
    assert compare_url(REMOTE, "", "b2") == ""


@pytest.mark.parametrize(("target", "problem"), [
    ({"format": "teams"}, "notify[0]: needs either url (a webhook) or command (a local "
                          "command given the message on stdin), not neither"),
    ({"url": "https://hooks.example/x", "command": "true"},
     "notify[0]: needs either url (a webhook) or command (a local command given the "
     "message on stdin), not both"),
    ({"url": "https://hooks.example/x", "format": "mattermost"}, "notify[0].format: "),
])
def test_a_notify_target_is_a_webhook_or_a_command_in_a_known_format(
        target: dict, problem: str) -> None:
    from deploytui.config.errors import ConfigError

    data = {"notify": [target], "projects": {"app": {
        "repo": "/srv/r.git", "deploy_to": "/srv/app",
        "environments": {"prod": {"hosts": {"web1": {}}}}}}}
    with pytest.raises(ConfigError) as bad:
        load_config_text(json.dumps(data), "team.yml")
    assert problem in str(bad.value)


def test_teams_discord_and_command_targets_load() -> None:
    data = {"notify": [{"url": {"secret": "teams"}, "format": "teams", "on": ["failure"]},
                       {"url": "https://discord.example/api/webhooks/1/x", "format": "discord"},
                       {"command": "./page.sh", "on": ["failure"], "timeout": 3}],
            "projects": {"app": {"repo": "/srv/r.git", "deploy_to": "/srv/app",
                                 "environments": {"prod": {"hosts": {"web1": {}}}}}}}
    teams, discord, command = load_config_text(json.dumps(data), "team.yml").notify
    assert (teams.format, teams.on, discord.format) == ("teams", ("failure",), "discord")
    assert (command.command, command.url, command.timeout) == ("./page.sh", None, 3.0)
