"""The runner: one shell per host runs every command of an operation, each as if alone.

What a command may rely on is what it had on a channel of its own: its own cwd,
variables, `exit` and process group, no stdin, its exact output and exit status. What
it gains: no channel, no sshd fork, no bash exec per command (runner.py).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.config import load_config
from deploytui.config.model import Config
from deploytui.engine.hosts.runner import EndCut
from deploytui.engine.hosts.ssh import SSHTransport
from deploytui.engine.hosts.transport import Cancelled, CommandTimedOut


def _transport(fleet: Fleet, tmp_path: Path) -> SSHTransport:
    config: Config = load_config(fleet.write_config(tmp_path / "deploytui.yml", fleet.config(1)))
    transport = SSHTransport(config.projects["app"].environments["prod"].hosts[0], config.ssh)
    transport.connect()
    return transport


def _cut_in_two(stream: bytes, at: int, token: str) -> tuple[bytes, EndCut]:
    cut = EndCut(token)
    return cut.feed(stream[:at]) + cut.feed(stream[at:]), cut


def test_the_end_marker_is_found_wherever_a_read_splits_it():
    token = "0123456789abcdef"
    stream = b"line one\npartial\x1edeploytui-end " + token.encode() + b" 7\nnext command"
    for at in range(len(stream) + 1):
        kept, cut = _cut_in_two(stream, at, token)
        assert (kept, cut.done, cut.exit_code()) == (b"line one\npartial", True, 7), at


def test_a_marker_with_another_token_is_output_not_an_end():
    stream = b"a\x1edeploytui-end 0000000000000000 0\nb\n"
    kept, cut = _cut_in_two(stream, 5, "0123456789abcdef")
    assert kept == stream and not cut.done


def test_commands_of_one_connection_share_one_host_shell_but_nothing_else(hosts, tmp_path):
    transport = _transport(hosts, tmp_path)
    try:
        first = transport.run('cd /tmp; export LEFT=1; trap "echo trapped" EXIT; echo $$; exit 7',
                              capture=True)
        second = transport.run('echo $$; pwd; echo "${LEFT-unset}"', capture=True)
    finally:
        transport.close()
    shell, trapped = first.stdout.splitlines()
    same_shell, cwd, left = second.stdout.splitlines()
    assert (first.exit_code, trapped) == (7, "trapped")
    assert second.ok and same_shell == shell
    assert cwd != "/tmp" and left == "unset"
    assert hosts.hosts[0].connections() == 1


def test_output_without_a_final_newline_and_a_fake_marker_arrive_exactly(hosts, tmp_path):
    transport = _transport(hosts, tmp_path)
    try:
        partial = transport.run("printf 'no newline'", capture=True)
        fake = transport.run(r"printf '\036deploytui-end 0000000000000000 0\n'; echo after;"
                             " exit 3", capture=True)
        after = transport.run("echo clean", capture=True)
    finally:
        transport.close()
    assert (partial.exit_code, partial.stdout) == (0, "no newline")
    assert fake.exit_code == 3
    assert fake.stdout.split("\n") == ["\x1edeploytui-end 0000000000000000 0", "after"]
    assert (after.exit_code, after.stdout) == (0, "clean")


def test_a_command_never_reads_the_next_commands_from_stdin(hosts, tmp_path):
    transport = _transport(hosts, tmp_path)
    try:
        reader = transport.run("cat; echo read-nothing", capture=True, timeout=5)
        then = transport.run("echo still-here", capture=True, timeout=5)
    finally:
        transport.close()
    assert reader.stdout == "read-nothing" and then.stdout == "still-here"


def test_a_timeout_kills_that_command_only_not_what_an_earlier_one_started(hosts, tmp_path):
    transport = _transport(hosts, tmp_path)
    host = hosts.hosts[0]
    try:
        assert transport.run("nohup sleep 304 >/dev/null 2>&1 &").ok
        with pytest.raises(CommandTimedOut):
            transport.run("sleep 305", timeout=0.5)
        survivor = [c for c in host.processes() if "sleep 304" in c]
        killed = [c for c in host.processes() if "sleep 305" in c]
        after = transport.run("echo next", capture=True, timeout=5)
    finally:
        transport.run("pkill -f 'sleep 304' || true")
        transport.close()
    assert survivor and not killed
    assert after.stdout == "next"


def test_a_command_that_leaves_a_process_writing_to_its_output_names_it(hosts, tmp_path):
    """Such a process writes into the commands after it and dies of SIGPIPE once we
    disconnect; one-channel tools hang on it instead. Say so, by pid, where it started."""
    transport = _transport(hosts, tmp_path)
    try:
        left = transport.run("sleep 306 & echo $!", capture=True)
        redirected = transport.run("nohup sleep 307 >/dev/null 2>&1 & echo $!", capture=True)
        failed = transport.run("sleep 308 & exit 3", capture=True)
        after = transport.run("echo next", capture=True)
    finally:
        transport.run("pkill -f 'sleep 30[678]' || true")
        transport.close()
    assert left.ok
    assert left.stderr.startswith("deploytui: left running in the background, writing to"
                                  f" this step's output: {left.stdout} (sleep).")
    assert "redirect it" in left.stderr
    assert redirected.ok and redirected.stderr == ""  # its output goes elsewhere
    assert failed.exit_code == 3 and failed.stderr == ""  # the failure is the news
    assert after.stdout == "next"


def test_a_process_left_running_is_named_by_its_program_even_before_it_has_execd(hosts, tmp_path):
    """On a busy host the fork of `sleep 5 &` can still be the shell when the command
    ends: the user typed `sleep`, so that is the name to give, not `bash`."""
    transport = _transport(hosts, tmp_path)
    slow_exec = ("( end=$(( ${EPOCHREALTIME/./} + 400000 ));"  # busy 0.4 s, forking nothing
                 " while (( ${EPOCHREALTIME/./} < end )); do :; done; exec sleep 309 ) & echo $!;"
                 # processes that end while the runner waits: gone from /proc when it looks
                 " for i in 1 2 3 4 5 6; do sleep 0.2 >/dev/null 2>&1 & done")
    try:
        left = transport.run(slow_exec, capture=True)
    finally:
        transport.run("pkill -f 'sleep 309' || true")
        transport.close()
    assert left.ok
    assert left.stderr.startswith("deploytui: left running in the background")
    assert f": {left.stdout} (sleep)." in left.stderr


def test_a_fork_that_redirects_its_output_as_it_execs_is_not_named(hosts, tmp_path):
    """`cmd >/dev/null 2>&1 &` is caught, on a busy host, as a fork still holding the
    step's output: once it has exec'd it holds /dev/null, and saying it leaks is wrong."""
    transport = _transport(hosts, tmp_path)
    slow_redirect = ("( end=$(( ${EPOCHREALTIME/./} + 400000 ));"  # the fork, busy 0.4 s
                     " while (( ${EPOCHREALTIME/./} < end )); do :; done;"
                     " exec sleep 310 >/dev/null 2>&1 ) & echo $!")
    try:
        redirected = transport.run(slow_redirect, capture=True)
        running = transport.run(f"kill -0 {redirected.stdout} && echo yes", capture=True)
    finally:
        transport.run("pkill -f 'sleep 310' || true")
        transport.close()
    assert redirected.ok and redirected.stderr == ""
    assert running.stdout == "yes"  # it was left running: only its output is not ours


def test_a_command_killed_on_the_host_reports_it_and_the_next_one_runs(hosts, tmp_path):
    transport = _transport(hosts, tmp_path)
    try:
        own = transport.run("kill -9 $BASHPID")
        runner = transport.run("kill -9 $$")  # the runner shell itself
        after = transport.run("echo next", capture=True, timeout=5)
    finally:
        transport.close()
    assert own.exit_code == 137
    assert runner.exit_code == -1
    assert after.stdout == "next"
    assert hosts.hosts[0].connections() == 1


def test_two_commands_at_once_on_one_connection_both_run(hosts, tmp_path):
    transport = _transport(hosts, tmp_path)
    results = []
    try:
        threads = [threading.Thread(target=lambda i=i: results.append(transport.run(
            f"sleep 0.3; echo {i}", capture=True))) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        transport.close()
    assert sorted(r.stdout for r in results) == ["0", "1", "2"]


def test_a_big_output_ends_where_its_command_ends(hosts, tmp_path):
    transport = _transport(hosts, tmp_path)
    lines: list[str] = []
    try:
        big = transport.run("seq 200000", on_lines=lambda batch, _stream: lines.extend(batch))
        after = transport.run("echo clean", capture=True)
    finally:
        transport.close()
    assert big.ok and lines == [str(i) for i in range(1, 200001)]
    assert after.stdout == "clean"


def test_a_command_stopped_on_the_host_is_waited_for_until_it_ends(hosts, tmp_path):
    transport = _transport(hosts, tmp_path)
    try:
        stopped = transport.run("me=$BASHPID; (sleep 0.5; kill -CONT $me) & kill -STOP $me;"
                                " echo resumed", capture=True, timeout=10)
    finally:
        transport.close()
    assert (stopped.exit_code, stopped.stdout, stopped.stderr) == (0, "resumed", "")


def test_a_nul_in_a_command_cannot_shift_the_commands_after_it(hosts, tmp_path):
    transport = _transport(hosts, tmp_path)
    try:
        odd = transport.run("echo a\0b", capture=True)
        odd_env = transport.run('echo "$K"', env={"K": "v\0\0w"}, capture=True)
        after = transport.run("echo clean", env={"K": "v"}, capture=True)
    finally:
        transport.close()
    assert (odd.stdout, odd_env.stdout, after.stdout) == ("ab", "vw", "clean")


def test_a_host_whose_shell_cannot_run_the_runner_runs_each_command_on_a_channel(
        hosts, tmp_path, monkeypatch):
    """e.g. bash 3.2 (no `read -N`): the runner ends before the command's first word, so
    the command runs on a channel of its own, once, and so do the ones after it. The
    runner here is run by the host's dash, which has no `read -N` either."""
    import shlex

    from deploytui.engine.hosts import runner, runner_session

    monkeypatch.setattr(runner_session, "runner_command",
                        lambda: "exec sh -c " + shlex.quote(runner._RUNNER) + " deploytui")
    transport = _transport(hosts, tmp_path)
    try:
        first = transport.run("echo first", capture=True)
        second = transport.run("echo second; exit 4", capture=True)
    finally:
        transport.close()
    assert (first.exit_code, first.stdout) == (0, "first")
    assert (second.exit_code, second.stdout) == (4, "second")


def test_a_cancel_set_by_the_commands_own_output_still_terminates_it(hosts, tmp_path):
    """stdout and stderr are not ordered: the line a caller waits for can be read before
    the process-group line (stderr), and a cancel then must still find the group."""
    transport = _transport(hosts, tmp_path)
    host = hosts.hosts[0]
    try:
        for _ in range(3):
            cancel = threading.Event()

            def on_lines(lines, stream, cancel=cancel):
                if "go" in lines:
                    cancel.set()

            with pytest.raises(Cancelled):
                transport.run("echo go; sleep 307", on_lines=on_lines, cancel=cancel,
                              timeout=20)
            assert not [c for c in host.processes() if "sleep 307" in c]
    finally:
        transport.close()
