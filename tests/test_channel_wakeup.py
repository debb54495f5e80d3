"""A command's reader is woken by any output that arrives after it last looked, on
either stream, whatever the other stream's buffer does meanwhile (engine/hosts/channel_reader.py).

The buffers here are paramiko's own, on a real Channel; what feeds them is what
paramiko's reader thread calls when a packet arrives."""

from __future__ import annotations

import threading

import paramiko

from deploytui.engine.hosts.channel_reader import ChannelWakeup


def test_output_on_one_stream_still_wakes_the_reader_after_the_other_stream_drained() -> None:
    chan = paramiko.Channel(0)
    wake = ChannelWakeup(chan)
    wake.arm()
    chan.in_stderr_buffer.feed(b"warning: x\n")
    chan.in_buffer.feed(b"step 1\n")
    assert chan.recv(100) == b"step 1\n"  # stdout drained: its buffer clears its signal
    assert wake.wait(0), "stderr's line is waiting: the reader must not sleep"
    assert chan.recv_stderr(100) == b"warning: x\n"


def test_a_reader_that_found_nothing_sleeps_until_output_arrives() -> None:
    chan = paramiko.Channel(0)
    wake = ChannelWakeup(chan)
    wake.arm()
    assert not chan.recv_ready() and not chan.recv_stderr_ready()
    assert not wake.wait(0)
    feeder = threading.Timer(0.05, chan.in_stderr_buffer.feed, args=(b"late\n",))
    feeder.start()
    try:
        assert wake.wait(10), "output that came after the look must wake the wait"
        assert chan.recv_stderr(100) == b"late\n"
    finally:
        feeder.cancel()


def test_output_that_came_before_the_reader_armed_is_found_by_its_look_not_lost() -> None:
    chan = paramiko.Channel(0)
    wake = ChannelWakeup(chan)
    chan.in_buffer.feed(b"early\n")
    wake.arm()  # clears the signal, but the look that follows finds the data
    assert chan.recv_ready()
    assert chan.recv(100) == b"early\n"


def test_the_channel_ending_wakes_the_reader() -> None:
    chan = paramiko.Channel(0)
    wake = ChannelWakeup(chan)
    wake.arm()
    chan.in_buffer.close()  # what paramiko does on EOF or close
    assert wake.wait(0)
