"""Chat notifications: real HTTP servers on 127.0.0.1 receive them; a broken or hanging
webhook is reported in one line (without its token) and never slows a deploy down."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from webhook_server import Webhook

from deploytui.commands.sinks import build_sinks
from deploytui.config.model import Config, NotifyTarget, SecretRef
from deploytui.config.secrets import SecretResolver
from deploytui.engine.events import (
    DeployFinished,
    DeployStarted,
    Event,
    HostFailed,
    HostLine,
    Recorder,
)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.stop()


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def config(*targets: NotifyTarget) -> Config:
    return Config(path=None, projects={}, notify=targets)


START = DeployStarted(operation="deploy", project="shop", environment="prod",
                      hosts=("web1", "web2"), user="alice@laptop", strategy="release",
                      ref="main", sha="0123456789abcdef", release_id="20240101120000")


def run(cfg: Config, events: list[Event], operation: str = "deploy",
        resolver: SecretResolver | None = None) -> tuple[Recorder, float]:
    """A deploy-like flow through build_sinks; returns what was printed and close()'s time."""
    printed = Recorder()
    sink, close = build_sinks(cfg, project="shop", environment="prod", operation=operation,
                              printer=printed, resolver=resolver)
    for event in events:
        sink(event)
    begin = time.monotonic()
    close()
    return printed, time.monotonic() - begin


def success(operation: str = "deploy") -> DeployFinished:
    return DeployFinished(operation=operation, outcome="success", duration=42.0,
                          release_id="20240101120000")


def test_a_json_webhook_hears_the_start_and_the_success_of_a_deploy(webhook):
    run(config(NotifyTarget(url=webhook.url())), [START, success()])
    start, done = webhook.wait_for(2)
    assert start["event"] == "start" and done["event"] == "success"
    assert {k: done[k] for k in ("operation", "outcome", "project", "environment", "user",
                                 "ref", "sha", "release", "duration")} == {
        "operation": "deploy", "outcome": "success", "project": "shop",
        "environment": "prod", "user": "alice@laptop", "ref": "main",
        "sha": "0123456789abcdef", "release": "20240101120000", "duration": 42.0}


def test_a_failure_names_the_host_and_the_step_that_failed(webhook):
    failed = DeployFinished(operation="deploy", outcome="failed", duration=3.0,
                            error="web2: build: exit 2")
    run(config(NotifyTarget(url=webhook.url(), on=("failure",))),
        [START, HostFailed(host="web2", phase="prepare", step="build", reason="exit 2"),
         failed])
    [message] = webhook.wait_for(1)
    assert (message["event"], message["failed_host"], message["failed_step"]) == (
        "failure", "web2", "build")


def test_slack_format_is_a_text_with_block_kit_fields(webhook):
    run(config(NotifyTarget(url=webhook.url(), format="slack", on=("success",))),
        [START, success()])
    [message] = webhook.wait_for(1)
    assert message["text"] == "alice@laptop deployed shop/prod main (01234567) in 42s"
    headline, details = message["blocks"][:2]
    assert headline["text"]["text"] == message["text"]
    fields = dict(f["text"].split("\n", 1) for f in details["fields"])
    assert fields["*Release*"] == "20240101120000" and fields["*By*"] == "alice@laptop"


def test_a_rollback_sends_rollback_on_success_and_failure_when_it_fails(webhook):
    back = DeployStarted(operation="rollback", project="shop", environment="prod",
                         hosts=("web1",), user="bob@ci", release_id="20231231000000")
    run(config(NotifyTarget(url=webhook.url())), [back, success("rollback")], "rollback")
    run(config(NotifyTarget(url=webhook.url())),
        [back, DeployFinished(operation="rollback", outcome="failed", duration=1.0)],
        "rollback")
    events = [(m["event"], m["operation"]) for m in webhook.wait_for(2)]
    assert events == [("rollback", "rollback"), ("failure", "rollback")]  # no "start"


def test_a_500_and_a_hanging_webhook_neither_fail_nor_slow_the_deploy(webhook):
    broken, hanging = Webhook("error"), Webhook("hang")
    try:
        targets = (NotifyTarget(url=broken.url(), timeout=10),
                   NotifyTarget(url=hanging.url(), timeout=10),
                   NotifyTarget(url=webhook.url(), timeout=10))
        printed, closing = run(config(*targets), [START, success()])
        assert closing < 1.5
        assert [m["event"] for m in webhook.wait_for(2)] == ["start", "success"]
        assert len(broken.wait_for(2)) == 2
        warnings = [e.line for e in printed.of(HostLine) if e.host == "notify"]
        assert any("HTTP 500" in w for w in warnings)
        assert any("did not answer in time" in w for w in warnings)
        assert all("s3cretT0ken" not in w and "/…" in w for w in warnings)
    finally:
        broken.stop()
        hanging.stop()


def test_a_refused_connection_is_one_warning_line_without_the_url_token():
    printed, closing = run(config(NotifyTarget(url="http://127.0.0.1:9/hook/tok3nXYZ",
                                               timeout=1)), [START])
    warnings = [e.line for e in printed.of(HostLine) if e.host == "notify"]
    assert len(warnings) == 1 and "http://127.0.0.1:9/…" in warnings[0]
    assert "tok3nXYZ" not in warnings[0] and closing < 1.5


def test_a_webhook_url_from_a_secret_is_used_and_never_shown(webhook, monkeypatch):
    secret_url = webhook.url("/hook/very-secret-path")
    monkeypatch.setenv("DEPLOYTUI_SECRET_CHAT_HOOK", secret_url)
    resolver = SecretResolver(warn=lambda line: None)
    printed, _ = run(config(NotifyTarget(url=SecretRef("chat-hook"), on=("start",))),
                     [START, HostLine(host="web1", line=f"posting to {secret_url}")],
                     resolver=resolver)
    webhook.wait_for(1)
    assert webhook.paths == ["/hook/very-secret-path"]
    assert "very-secret-path" not in repr(printed.events)
    assert printed.of(HostLine)[0].line == "posting to ****"


def test_prune_sends_nothing(webhook):
    prune = DeployStarted(operation="prune", project="shop", environment="prod",
                          hosts=("web1",), user="alice@laptop")
    run(config(NotifyTarget(url=webhook.url())), [prune, success("prune")], "prune")
    run(config(NotifyTarget(url=webhook.url(), on=("success",))), [START, success()])
    assert [m["operation"] for m in webhook.wait_for(1)] == ["deploy"]
