"""What a user reads of a step's output: the tool's own bytes, whole, in order, in batches;
never our framing, never a secret, never unbounded memory (real sshd fleet + local)."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.commands.printer import RESET, Printer
from deploytui.config import load_config_text
from deploytui.config.model import Host, SSHSettings
from deploytui.engine.events import Broadcast, HostLines, Recorder
from deploytui.engine.hosts.local import LocalTransport
from deploytui.engine.hosts.output import LineSplitter
from deploytui.engine.hosts.ssh import SSHTransport
from deploytui.engine.redact import redacting_sink
from deploytui.engine.remote.script import ScriptStep, run_script
from deploytui.engine.remote.steps import StepFailed
from deploytui.history import JournalSink

ROOT = Path(__file__).resolve().parents[1]
SECRET = "tok-split-s3cr3t"

# a step whose output never ends its line, on both streams, then a step that prints our
# marker text itself (old style, and new style with a made-up nonce)
UNFINISHED = ["printf 'no newline at the end'", "printf 'stderr without newline' >&2",
              "printf '\\036deploytui-step 0\\n\\036deploytui-0123456789abcdef done 0 0\\n'",
              "echo after"]


def _cli_deploy(hosts: Fleet, tmp_path: Path, build: list[str], count: int = 2
                ) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """`deploytui deploy` as a process, stdout into a pipe; returns it and the host logs."""
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(count, build=build))
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEPLOYTUI_DATA_DIR": str(data)}
    proc = subprocess.run([sys.executable, "-m", "deploytui", "--config", str(path), "deploy",
                           "app", "prod", "--yes"], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=60)
    logs = {p.stem: p.read_text() for p in data.glob("logs/app/prod/*/*.log")}
    return proc, logs


def _user_visible_marker_lines(text: str) -> list[str]:
    """Lines holding marker bytes (\\x1e); a step header quoting the command has none."""
    return [ln for ln in text.split("\n") if "\x1e" in ln]


def test_output_without_a_final_newline_ends_its_line_and_no_marker_reaches_cli_or_logs(
        hosts: Fleet, tmp_path: Path):
    proc, logs = _cli_deploy(hosts, tmp_path, UNFINISHED)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout.split("\n")  # not splitlines(): it also splits at \x1e
    for host in ("host1", "host2"):
        assert f"[{host}] no newline at the end" in out
        assert f"[{host}] stderr without newline" in out
        assert f"[{host}] after" in out
        # the step that printed marker text: its lines shown as printed, framing unshaken
        assert f"[{host}] \x1edeploytui-step 0" in out
        assert f"[{host}] \x1edeploytui-0123456789abcdef done 0 0" in out
        assert out.count(f"[{host}] $ build: echo after") == 1
        log = logs[host]
        assert log.count(" no newline at the end\n") == 1
        assert " [err] stderr without newline\n" in log
        assert len(_user_visible_marker_lines(log)) == 2  # only the step's own two lines
    assert len(_user_visible_marker_lines(proc.stdout)) == 4  # 2 per host, the user's


def test_a_flood_arrives_whole_in_order_in_the_log_files_and_in_few_batches(
        hosts: Fleet, tmp_path: Path):
    proc, logs = _cli_deploy(hosts, tmp_path, ["seq 1 200000"], count=2)
    assert proc.returncode == 0, proc.stderr
    expected = [str(n) for n in range(1, 200001)]
    for host in ("host1", "host2"):
        printed = [ln[len(host) + 3:] for ln in proc.stdout.splitlines()
                   if ln.startswith(f"[{host}] ") and ln[len(host) + 3:].isdigit()]
        assert printed == expected
        logged = [ln.split(" ", 1)[1] for ln in logs[host].splitlines()
                  if ln.split(" ", 1)[1].isdigit()]
        assert logged == expected


def _transport(hosts: Fleet, tmp_path: Path) -> SSHTransport:
    data = hosts.config(1)
    config = load_config_text(json.dumps(data), str(tmp_path / "t.yml"))
    host: Host = config.projects["app"].environments["prod"].hosts[0]
    settings: SSHSettings = config.ssh
    transport = SSHTransport(host, settings)
    transport.connect()
    return transport


class _Knows:
    def known_values(self) -> list[str]:
        return [SECRET]


def test_a_secret_split_across_two_reads_is_still_redacted_everywhere(hosts: Fleet,
                                                                      tmp_path: Path):
    printed = io.StringIO()
    recorder = Recorder()
    journal = JournalSink(operation="deploy", project="app", environment="prod",
                          logs_root=tmp_path / "logs")
    sink = redacting_sink(Broadcast([Printer(printed), journal, recorder]), _Knows())
    half = len(SECRET) // 2
    transport = _transport(hosts, tmp_path)
    try:  # the pause makes the host send the two halves in separate SSH packets
        run_script(transport, "prepare", [ScriptStep("build", (
            f"printf 'token={SECRET[:half]}'; sleep 0.5; printf '{SECRET[half:]} ok\\n';"
            f" printf '%s\\n' first {SECRET}-tail; sleep 0.3; echo last"))], sink=sink)
    finally:
        transport.close()
        journal.close()
    batches = recorder.of(HostLines)
    lines = [e.line for e in recorder.lines()]
    assert lines == ["token=**** ok", "first", "****-tail", "last"]
    assert len(batches) >= 2  # the output really came in more than one read
    log = next((tmp_path / "logs").glob("app/prod/*/host1.log")).read_text()
    for text in (printed.getvalue(), log):
        assert SECRET not in text and SECRET[:half] not in text
        assert "token=**** ok" in text


def test_a_line_without_end_is_cut_at_the_cap_so_memory_stays_bounded(hosts: Fleet,
                                                                       tmp_path: Path):
    recorder = Recorder()
    transport = _transport(hosts, tmp_path)
    try:  # 3.5 MB with no newline at all, then a progress bar redrawn 20,000 times
        run_script(transport, "prepare", [ScriptStep("build", (
            "head -c 3500000 /dev/zero | tr '\\0' x; echo;"
            " for i in $(seq 1 20000); do printf '\\r%d%%' $i; done; echo"))], sink=recorder)
    finally:
        transport.close()
    lines = [e.line for e in recorder.lines()]
    assert [len(ln) for ln in lines[:4]] == [1 << 20, 1 << 20, 1 << 20, 3500000 - 3 * (1 << 20)]
    assert lines[4:] == ["20000%"]


def test_the_splitter_never_holds_more_than_one_line_cap():
    got: list[str] = []
    splitter = LineSplitter(got.extend, max_line=1000)
    for _ in range(500):  # 500 kB, no newline
        splitter.feed(b"y" * 1000)
        assert splitter._pending <= 1000
    splitter.feed("é".encode()[:1])  # half a character stays in the decoder
    splitter.feed("é".encode()[1:] + b"\n")
    splitter.close()
    assert len(got) == 501 and got[-1] == "é" and all(len(ln) == 1000 for ln in got[:-1])


def test_a_failing_step_keeps_its_output_and_says_its_first_failure(hosts: Fleet,
                                                                    tmp_path: Path):
    recorder = Recorder()
    transport = _transport(hosts, tmp_path)
    try:
        with pytest.raises(StepFailed) as failed:
            run_script(transport, "prepare", [
                ScriptStep("build: printf", "printf 'half a line'"),
                ScriptStep("build: sudo", "sudo -n true")], sink=recorder)
    finally:
        transport.close()
    assert failed.value.reason == "sudo: a password is required (exit 1)"
    # stdout and stderr are two streams: ssh keeps the order within each, not across them
    assert sorted((e.stream, e.line) for e in recorder.lines()) == [
        ("err", "sudo: a password is required"), ("out", "half a line")]


# -- colour -------------------------------------------------------------------------------
COLOURED = "\x1b[31mFAILED\x1b[0m tests/test_x.py::test_y - \x1b[1massert 1 == 2"


def test_colour_reaches_a_file_or_pipe_exactly_as_the_tool_wrote_it():
    out = io.StringIO()
    Printer(out)(HostLines(host="web1", lines=(COLOURED, "plain")))
    assert out.getvalue() == f"[web1] {COLOURED}\n[web1] plain\n"


def test_colour_reaches_a_terminal_as_colour_and_never_paints_the_next_prefix():
    leader, follower = pty.openpty()
    try:
        with open(follower, "w", closefd=False) as tty:
            Printer(tty)(HostLines(host="web1", lines=(COLOURED, "plain")))
        shown = os.read(leader, 4096).decode().replace("\r\n", "\n")
    finally:
        os.close(leader)
        os.close(follower)
    assert shown == f"[web1] {COLOURED}{RESET}\n[web1] plain\n"


def test_per_host_log_files_keep_a_real_tools_colour_bytes(tmp_path: Path):
    recorder = Recorder()
    journal = JournalSink(operation="deploy", project="p", environment="e",
                          logs_root=tmp_path / "logs")
    transport = LocalTransport("local1")
    transport.connect()
    try:
        run_script(transport, "prepare", [ScriptStep("grep", (
            "printf 'one\\nerror here\\n' | grep --color=always error"))],
            sink=Broadcast([journal, recorder]))
    finally:
        journal.close()
    [line] = [e.line for e in recorder.lines()]
    assert "\x1b[" in line and "error" in line
    log = next((tmp_path / "logs").glob("p/e/*/local1.log")).read_text()
    assert log.endswith(f" {line}\n")


_OWN_GROUP = "read -r _ _ _ _ g _ < /proc/$BASHPID/stat; echo \"group $g\""


@pytest.mark.parametrize("leader", [True, False], ids=["group-leader", "not-a-group-leader"])
def test_the_wrapper_prints_the_process_group_its_command_runs_in(leader: bool) -> None:
    """Cancel and timeout kill the group the wrapper names. Over SSH the wrapper is
    already the session leader (sshd's child, exec'd) and starts no `setsid`; when a
    shell runs it in its caller's group instead, it moves into a group of its own first."""
    from deploytui.engine.hosts.output import PGID_MARKER, wrapper_command

    done = subprocess.run(["bash", "-c", wrapper_command(_OWN_GROUP, False)
                           if leader else "true; " + wrapper_command(_OWN_GROUP, False)
                           + "; true"],
                          capture_output=True, text=True, start_new_session=leader,
                          timeout=10)
    pgid = done.stderr.split(PGID_MARKER, 1)[1].split()[0]
    assert done.stdout.strip() == f"group {pgid}"
    assert int(pgid) != os.getpgid(0)  # never the caller's own group
