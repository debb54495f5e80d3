"""Secrets: `{secret: NAME}` comes from a real OS keyring (gnome-keyring's Secret Service),
else DEPLOYTUI_SECRET_<NAME>, else one prompt per run — and never shows up anywhere."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from keyring_session import keyring_session, reselect_backend

from deploytui.commands.sinks import build_sinks
from deploytui.config import load_config_text
from deploytui.config.model import SecretRef
from deploytui.config.secrets import (
    SecretResolver,
    SecretUnavailable,
    delete_secret,
    env_var_name,
    store_secret,
)
from deploytui.engine.events import DeployFinished, DeployStarted, Event, HostLine
from deploytui.engine.hosts.pool import HostPool, transport_factory
from deploytui.engine.redact import MASK, redact, redacting_sink
from deploytui.engine.remote.steps import StepFailed, run_step
from deploytui.history import Journal

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory):
    with keyring_session(tmp_path_factory.mktemp("keyring")) as session:
        yield session


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(path))
    return path


def cli(*args: str, stdin: str = "", env: dict[str, str] | None = None):
    return subprocess.run([sys.executable, "-m", "deploytui", *args], input=stdin,
                          capture_output=True, text=True, timeout=30, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


# -- the keyring ------------------------------------------------------------------------

def test_secret_set_stores_piped_stdin_in_the_os_keyring_without_printing_it(secret_service):
    result = cli("secret", "set", "db-password", stdin="Tr0ub4dor&3\n")
    assert result.returncode == 0, result.stderr
    assert "Tr0ub4dor&3" not in result.stdout + result.stderr
    assert secret_service.lookup("db-password") == "Tr0ub4dor&3"  # libsecret reads it too
    assert SecretResolver().resolve(SecretRef("db-password")) == "Tr0ub4dor&3"


def test_secret_delete_removes_it_and_a_second_delete_says_it_is_not_there(secret_service):
    store_secret("short-lived", "gone-soon-123")
    assert cli("secret", "delete", "short-lived").returncode == 0
    assert secret_service.lookup("short-lived") is None
    again = cli("secret", "delete", "short-lived")
    assert again.returncode == 1
    assert again.stderr.strip().count("\n") == 0 and "short-lived" in again.stderr


def test_the_keyring_wins_over_the_environment_variable(secret_service, monkeypatch):
    store_secret("api-token", "from-the-keyring")
    monkeypatch.setenv("DEPLOYTUI_SECRET_API_TOKEN", "from-the-environment")
    assert SecretResolver().resolve(SecretRef("api-token")) == "from-the-keyring"
    delete_secret("api-token")


def test_the_environment_variable_fills_in_when_the_keyring_lacks_the_secret(
        secret_service, monkeypatch):
    monkeypatch.setenv("DEPLOYTUI_SECRET_SLACK_WEBHOOK_PROD", "https://hooks.example/T1/abc")
    assert env_var_name("slack-webhook.prod") == "DEPLOYTUI_SECRET_SLACK_WEBHOOK_PROD"
    resolver = SecretResolver()
    assert resolver.resolve(SecretRef("slack-webhook.prod")) == "https://hooks.example/T1/abc"
    assert resolver.known_values() == ["https://hooks.example/T1/abc"]


def test_a_resolver_caches_each_value_for_the_run(secret_service):
    store_secret("cached", "value-one")
    resolver = SecretResolver()
    assert resolver.resolve(SecretRef("cached")) == "value-one"
    store_secret("cached", "value-two")  # changed behind our back: this run keeps its value
    assert resolver.resolve(SecretRef("cached")) == "value-one"
    assert SecretResolver().resolve(SecretRef("cached")) == "value-two"
    delete_secret("cached")


# -- no usable keyring ------------------------------------------------------------------

RESOLVE = """
from deploytui.config.model import SecretRef
from deploytui.config.secrets import SecretResolver
r = SecretResolver()
for _ in range(2):
    print(r.resolve(SecretRef("ci-token")) == "ci-value")
"""


@pytest.mark.parametrize("backend", ["keyring.backends.fail.Keyring",
                                     "keyring.backends.null.Keyring"])
def test_without_a_usable_keyring_one_stderr_line_says_so_and_ci_env_vars_work(backend):
    result = subprocess.run(
        [sys.executable, "-c", RESOLVE], capture_output=True, text=True, timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHON_KEYRING_BACKEND": backend,
             "DEPLOYTUI_SECRET_CI_TOKEN": "ci-value"})
    assert result.stdout.split() == ["True", "True"], result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "keyring" in lines[0] and backend in lines[0]
    assert "ci-value" not in result.stderr


def test_secret_set_refuses_a_backend_that_would_not_keep_it(tmp_path):
    result = cli("secret", "set", "x-token", stdin="whatever-value\n",
                 env={"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"})
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "DEPLOYTUI_SECRET_" in result.stderr and "whatever-value" not in result.stderr


@pytest.fixture
def null_keyring(monkeypatch):
    """This process uses keyring's null backend (stores nothing) for the test."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    reselect_backend()
    yield
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    reselect_backend()


def test_interactive_runs_ask_once_even_from_many_threads(null_keyring):
    asked: list[str] = []

    def prompt(name: str) -> str:
        asked.append(name)
        time.sleep(0.05)  # a slow human: the other threads must wait, not ask again
        return "typed-by-hand"

    resolver = SecretResolver(interactive=True, prompt=prompt, warn=lambda line: None)
    results: list[str | None] = []
    threads = [threading.Thread(target=lambda: results.append(
        resolver.resolve(SecretRef("sudo-pw")))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert asked == ["sudo-pw"]
    assert results == ["typed-by-hand"] * 20


def test_a_secret_nowhere_to_be_found_is_one_line_naming_it_and_how_to_set_it(null_keyring):
    with pytest.raises(SecretUnavailable) as caught:
        SecretResolver(warn=lambda line: None).resolve(SecretRef("missing-one"))
    text = str(caught.value)
    assert "\n" not in text
    assert "missing-one" in text and "deploytui secret set missing-one" in text
    assert "DEPLOYTUI_SECRET_MISSING_ONE" in text


def test_plain_strings_pass_through_and_are_not_treated_as_secrets():
    resolver = SecretResolver()
    assert resolver.resolve("not-secret") == "not-secret"
    assert resolver.resolve(None) is None
    assert resolver.known_values() == []


# -- redaction --------------------------------------------------------------------------

def test_redaction_masks_the_longest_value_first_and_ignores_tiny_values():
    assert redact("pw=abcd1234 and abcd", ["abcd", "abcd1234"]) == f"pw={MASK} and {MASK}"
    assert redact("a b c", ["a", "", "ab"]) == "a b c"  # < 4 chars: not a secret
    assert redact("line2 here", ["line1-xyz\nline2"]) == f"{MASK} here"  # multi-line


def test_redacting_sink_scrubs_host_output_failures_and_the_final_error():
    resolver = SecretResolver()
    resolver.remember("s3cr3t-value")
    seen: list[Event] = []
    sink = redacting_sink(seen.append, resolver)
    sink(HostLine(host="h1", line="token=s3cr3t-value"))
    sink(DeployFinished(operation="deploy", outcome="failed", duration=1.0,
                        failed_hosts={"h1": "build: s3cr3t-value"}, error="s3cr3t-value!"))
    assert "s3cr3t-value" not in repr(seen)
    assert seen[0].line == f"token={MASK}"


# -- the whole path: config -> resolver -> remote steps -> every output ------------------

CONFIG = """
projects:
  app:
    repo: builtin:demo
    deploy_to: /tmp/unused
    env:
      API_TOKEN: {secret: leak-token}
    environments:
      prod:
        hosts:
          h1: {address: localhost, transport: local, deploy_to: /tmp/unused/h1}
          h2: {address: localhost, transport: local, deploy_to: /tmp/unused/h2}
notify:
  - url: {secret: leak-hook}
    format: json
    timeout: 1
"""


def test_a_secret_echoed_by_remote_steps_appears_in_no_output_log_journal_or_error(
        secret_service, data_dir, monkeypatch):
    token = "tok-9f8e7d6c5b4a"
    hook = "http://127.0.0.1:9/hooks/T000/B000/hooksecret42"  # port 9: connection refused
    store_secret("leak-token", token)
    monkeypatch.setenv("DEPLOYTUI_SECRET_LEAK_HOOK", hook)
    config = load_config_text(CONFIG, "leak.yml")
    project = config.projects["app"]
    resolver = SecretResolver()
    env = {k: resolver.resolve(v) or "" for k, v in project.env.items()}
    printed: list[str] = []
    lock = threading.Lock()

    def printer(event: Event) -> None:
        with lock:
            printed.append(repr(event))

    sink, close = build_sinks(config, project="app", environment="prod",
                              operation="deploy", printer=printer, resolver=resolver)
    hosts = project.environments["prod"].hosts
    sink(DeployStarted(operation="deploy", project="app", environment="prod",
                       hosts=tuple(h.name for h in hosts), user="tester@here"))
    pool = HostPool(hosts, transport_factory(config))
    assert pool.connect() == {}
    errors: list[str] = []

    def steps(host, transport) -> None:
        run_step(transport, "prepare", "build", 'echo "out $API_TOKEN"; echo "err $API_TOKEN" >&2',
                 sink=sink, env=env)
        try:
            run_step(transport, "prepare", "migrate", 'echo "bad token $API_TOKEN" >&2; exit 3',
                     sink=sink, env=env)
        except StepFailed as exc:
            errors.append(redact(str(exc), resolver.known_values()))

    outcomes = pool.map(steps)
    pool.close()
    assert all(o.ok for o in outcomes.values())
    sink(DeployFinished(operation="deploy", outcome="failed", duration=0.5,
                        error="; ".join(errors)))
    close()

    everything = "\n".join(printed + errors)
    assert "out ****" in everything and "bad token ****" in everything
    assert "127.0.0.1:9/…" in everything  # the failing webhook, reduced to scheme://host/…
    written = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name == "h1.log" for p in written) and any(p.suffix == ".sqlite3" for p in written)
    for path in written:
        blob = path.read_bytes()
        assert token.encode() not in blob, path
        assert b"hooksecret42" not in blob, path
    for secret in (token, "hooksecret42"):
        assert secret not in everything
    entry = Journal().list_entries("app", "prod")[0]
    assert entry.outcome == "failed" and entry.hosts["h1"].error == "bad token **** (exit 3)"
    delete_secret("leak-token")



def _local_project(tmp_path: Path, build: str):
    from deploytui.config.model import Environment, Host, Project

    hosts = tuple(Host(f"h{i}", "localhost", transport="local",
                       deploy_to=str(tmp_path / f"h{i}")) for i in (1, 2))
    return Project("app", str(tmp_path / "repo"), "/srv/unused",
                   {"prod": Environment("prod", hosts)}, build=(build,),
                   env={"BUILD_TOKEN": SecretRef("build-token")})


def test_a_real_local_deploy_whose_build_prints_the_secret_leaks_it_into_no_event_or_file(
        secret_service, data_dir, tmp_path):
    from deploytui.config.model import Config
    from deploytui.engine.operations.deploy import DeployRequest, run_deploy
    from deploytui.sample_app import create_sample_repo

    token = "deploy-tok-5a4b3c2d1e"
    store_secret("build-token", token)
    create_sample_repo(tmp_path / "repo")
    printed: list[str] = []
    for build, expected, rid in (
            ('echo "using $BUILD_TOKEN"; echo "$BUILD_TOKEN" >&2', "success", "20240101000001"),
            ('echo "rejected $BUILD_TOKEN" >&2; exit 4', "failed", "20240101000002")):
        proj = _local_project(tmp_path, build)
        config = Config(None, {"app": proj})
        resolver = SecretResolver()
        sink, close = build_sinks(config, project="app", environment="prod",
                                  operation="deploy", printer=lambda e: printed.append(repr(e)),
                                  resolver=resolver)
        result = run_deploy(config, DeployRequest(proj, proj.environments["prod"],
                                                  user="ann@laptop", release_id=rid),
                            sink=sink, resolver=resolver)
        close()
        assert result.outcome == expected, redact(result.error, [token])
    everything = "\n".join(printed)
    assert "using ****" in everything and "rejected ****" in everything
    assert token not in everything
    for path in [*data_dir.rglob("*"), *tmp_path.glob("h*/**/*")]:
        if path.is_file() and not path.is_symlink():
            assert token.encode() not in path.read_bytes(), path
    entries = Journal().list_entries("app", "prod")
    assert [e.outcome for e in entries] == ["failed", "success"]
    assert "rejected ****" in entries[0].host_logs["h1"].read_text()
    assert entries[0].hosts["h1"].error.startswith("rejected ****")
    revisions = (tmp_path / "h1" / "revisions.log").read_text()
    assert f"deployed as release {entries[1].release_id} by ann@laptop" in revisions
    delete_secret("build-token")


def test_the_deploy_command_never_prints_a_secret_a_failing_step_echoed(
        secret_service, data_dir, tmp_path):
    from deploytui.sample_app import create_sample_repo

    token = "cli-tok-0f1e2d3c4b"
    create_sample_repo(tmp_path / "repo")
    config = tmp_path / "deploytui.yml"
    config.write_text(f"""
projects:
  app:
    repo: {tmp_path / "repo"}
    deploy_to: {tmp_path / "h"}
    build: ['echo "rejected $BUILD_TOKEN" >&2; exit 4']
    env: {{BUILD_TOKEN: {{secret: build-token}}}}
    environments:
      prod:
        hosts:
          h1: {{address: localhost, transport: local}}
""")
    result = cli("--config", str(config), "deploy", "app", "prod", "--yes",
                 env={**secret_service.env, "DEPLOYTUI_SECRET_BUILD_TOKEN": token,
                      "DEPLOYTUI_DATA_DIR": str(data_dir)})
    assert result.returncode == 1, result.stderr
    assert "rejected ****" in result.stdout + result.stderr
    assert token not in result.stdout + result.stderr


def _on_a_terminal(args: list[str], answers: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run `deploytui ARGS` with a real pty as its controlling terminal; type `answers`."""
    import fcntl
    import pty
    import termios

    main, child_end = pty.openpty()

    def make_controlling() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "deploytui", *args], stdin=child_end,
                            stdout=child_end, stderr=child_end, preexec_fn=make_controlling,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    os.close(child_end)
    screen = b""
    for answer in answers:
        while b": " not in screen.rsplit(b"\n", 1)[-1]:
            screen += os.read(main, 1024)
        os.write(main, answer.encode() + b"\n")
        screen += b"\n"
    code = proc.wait(20)
    with contextlib.suppress(OSError):
        while chunk := os.read(main, 1024):
            screen += chunk
    os.close(main)
    return code, screen.decode(errors="replace")


def test_secret_set_on_a_terminal_asks_twice_without_echo(secret_service):
    code, screen = _on_a_terminal(["secret", "set", "typed-secret"],
                                  ["Typed-Value-77", "Typed-Value-77"], secret_service.env)
    assert code == 0, screen
    assert "again, to confirm" in screen and "Typed-Value-77" not in screen
    assert secret_service.lookup("typed-secret") == "Typed-Value-77"
    code, screen = _on_a_terminal(["secret", "set", "typed-secret"],
                                  ["new-value-1", "new-value-2"], secret_service.env)
    assert code == 1 and "differ" in screen
    assert secret_service.lookup("typed-secret") == "Typed-Value-77"
