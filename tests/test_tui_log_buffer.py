"""The buffer between engine threads and the console's UI timer (no Textual involved)."""

from __future__ import annotations

import threading

from deploytui.engine.events import (
    DeployFinished,
    DeployStarted,
    HostFailed,
    HostLine,
    HostLines,
    HostStepDone,
    HostStepStarted,
    PhaseFinished,
    PhaseStarted,
)
from deploytui.tui.log_buffer import SHOWN_CHARS, LogBuffer, clean_line


def test_ansi_colours_and_carriage_return_redraws_are_cleaned():
    assert clean_line("\x1b[32mok\x1b[0m done") == "ok done"
    assert clean_line("10%\r50%\r100%") == "100%"
    assert clean_line("a\tb\x07") == "a    b"


def test_drain_returns_only_what_is_new_per_host_and_for_all_hosts():
    buf = LogBuffer(max_lines=100)
    buf(HostLine("web1", "one"))
    buf(HostLine("web2", "two"))
    first = buf.drain()
    assert first.lines == {"web1": ["one"], "web2": ["two"]}
    assert [ln.split("│")[1].strip() for ln in first.all_lines] == ["one", "two"]
    assert buf.drain().empty
    buf(HostLine("web1", "three"))
    assert buf.drain().lines == {"web1": ["three"]}
    assert buf.lines("web1") == ["one", "three"]


def test_memory_is_bounded_per_host_even_when_nobody_drains():
    buf = LogBuffer(max_lines=50)
    for i in range(10_000):
        buf(HostLine("web1", f"line {i}"))
    assert len(buf.lines("web1")) == 50
    assert len(buf.drain().lines["web1"]) == 50
    assert buf.lines("web1")[-1] == "line 9999"


def test_status_phase_progress_and_failure_are_recorded():
    t = [100.0]
    buf = LogBuffer(clock=lambda: t[0])
    buf(DeployStarted(operation="deploy", project="p", environment="e",
                      hosts=("a", "b"), user="u@m"))
    buf(PhaseStarted("prepare", ("a", "b")))
    buf(HostStepStarted("a", "prepare", "build"))
    buf(HostStepStarted("b", "prepare", "build"))
    buf(HostStepDone("a", "prepare", "build", 1.0))
    d = buf.drain()
    assert d.started is not None
    assert d.progress is not None and (d.progress.phase, d.progress.done,
                                       d.progress.total) == ("prepare", 1, 2)
    t[0] = 105.0
    buf(HostFailed("b", "prepare", "build", "exit status 1"))
    d = buf.drain()
    assert d.states["b"].status == "failed"
    assert d.states["b"].finished - d.states["b"].started == 5.0
    assert buf.lines("b")[-1].startswith("FAILED in prepare (build)")
    buf(PhaseFinished("prepare", ok=False))
    buf(DeployFinished(operation="deploy", outcome="failed", duration=5.0,
                       failed_hosts={"b": "build: exit status 1"}))
    d = buf.drain()
    assert d.finished is not None and d.finished.outcome == "failed"
    assert buf.states()["a"].status == "stopped" and buf.states()["b"].status == "failed"


def test_many_threads_append_while_the_ui_drains_without_losing_lines():
    buf = LogBuffer(max_lines=100_000)
    got: dict[str, int] = {}
    stop = threading.Event()

    def produce(host: str) -> None:
        for i in range(2000):
            buf(HostLine(host, str(i)))

    threads = [threading.Thread(target=produce, args=(f"h{i}",)) for i in range(8)]
    for th in threads:
        th.start()
    while not stop.is_set():
        for host, lines in buf.drain().lines.items():
            got[host] = got.get(host, 0) + len(lines)
        if not any(th.is_alive() for th in threads):
            stop.set()
    for host, lines in buf.drain().lines.items():
        got[host] = got.get(host, 0) + len(lines)
    assert got == {f"h{i}": 2000 for i in range(8)}


def test_a_hosts_last_output_is_its_newest_non_blank_line_in_every_view_of_its_state():
    buf = LogBuffer(max_lines=10)
    buf(HostStepStarted("web1", "prepare", "build"))
    buf(HostLine("web1", "compiling"))
    buf(HostLine("web1", "   "))
    assert buf.drain().states["web1"].last_line == "compiling"
    buf(HostLine("web1", "linking"))
    buf(HostStepDone("web1", "prepare", "build", 1.0))
    assert buf.states()["web1"].last_line == "linking"
    assert buf.states()["web1"].step == "build"
    assert buf.drain().states["web1"].last_line == "linking"


def test_printable_lines_pass_through_cleaning_unchanged():
    for line in ("npm WARN deprecated x@1.2.3", "✓ built in 3s", "", "a  b"):
        assert clean_line(line) == line
    assert clean_line("caf\u00e9\x1b[0m\u00a0!") == "caf\u00e9\u00a0!"


def test_a_host_cancelled_mid_step_is_not_busy_in_the_next_operation():
    buf = LogBuffer(max_lines=100)
    hosts = ("web1", "web2")
    buf(DeployStarted(operation="deploy", project="p", environment="e", hosts=hosts, user="u"))
    buf(PhaseStarted("prepare", hosts))
    buf(HostStepStarted("web1", "prepare", "build"))  # cancelled here: no HostStepDone
    buf.reset()
    buf(DeployStarted(operation="deploy", project="p", environment="e", hosts=hosts, user="u"))
    buf(PhaseStarted("restart", hosts))  # only web2 has something to restart
    buf(HostStepStarted("web2", "restart", "restart"))
    buf(HostStepDone("web2", "restart", "restart", 0.1))
    assert buf.progress().done == 2  # web1 has nothing to do: it is not still "busy"


def test_a_batch_keeps_its_order_its_colour_codes_and_shortens_only_giant_lines():
    buf = LogBuffer(max_lines=3)
    giant = "x" * (SHOWN_CHARS + 5)
    buf(HostLines("web1", ("a", "\x1b[31mred\x1b[0m\x1b[2K", giant, "b\rc", "d")))
    assert buf.lines("web1") == [
        f"{'x' * SHOWN_CHARS}… (5 more characters in the log file)", "c", "d"]
    drained = buf.drain()
    assert drained.lines["web1"] == buf.lines("web1")
    assert buf.states()["web1"].last_line == "d"
    buf(HostLines("web1", ("\x1b[31mred\x1b[0m\x1b[2K",)))
    assert buf.lines("web1")[-1] == "\x1b[31mred\x1b[0m"  # colour kept, cursor codes gone
    assert buf.states()["web1"].last_line == "red"
