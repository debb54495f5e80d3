"""A Transport that runs on this machine: the built-in demo's hosts need no server.

It behaves like the SSH transport in every way the engine can see: bash, the same
wrapper, process-group termination on cancel/timeout, line-by-line output.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from deploytui.engine.hosts.output import (
    LEFT_RUNNING,
    LEFT_RUNNING_ADVICE,
    LineSplitter,
    env_block,
    wrapper_argv,
)
from deploytui.engine.hosts.transport import (
    Cancelled,
    CommandResult,
    CommandTimedOut,
    LinesCallback,
    TcpRefused,
    TransportError,
)

KILL_GRACE = 2.0
LEFT_RUNNING_GRACE = 0.2  # seconds a step's output may still take to close after it ended


class LocalTransport:
    def __init__(self, name: str) -> None:
        self.name = name
        self._closed = False
        self._procs: dict[subprocess.Popen[bytes], LineSplitter] = {}  # proc -> its stderr
        self._lock = threading.Lock()

    def connect(self) -> None:
        if shutil.which("bash") is None:
            raise TransportError(self.name, "local host needs bash on PATH")
        self._closed = False

    def run(
        self,
        command: str,
        *,
        on_lines: LinesCallback | None = None,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        capture: bool = False,
    ) -> CommandResult:
        started = time.monotonic()
        if self._closed:
            raise TransportError(self.name, "closed; the operation has ended")
        proc = subprocess.Popen(
            wrapper_argv(command, bool(env)),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=os.path.expanduser("~"), start_new_session=True,  # its own process group
        )
        out = LineSplitter((lambda lines: on_lines(lines, "out")) if on_lines else None,
                           capture=capture)
        err = LineSplitter((lambda lines: on_lines(lines, "err")) if on_lines else None)
        with self._lock:
            self._procs[proc] = err
            closing = self._closed  # close() ran while this command was starting
        if closing:
            self._kill_group(proc, err)
        try:
            self._feed_stdin(proc, env_block(env) + (stdin or b""))
            self._pump(proc, out, err, started, timeout, cancel)
        finally:
            with self._lock:
                self._procs.pop(proc, None)
        out.close()
        err.close()
        return CommandResult(proc.returncode, out.text(), err.text(),
                             time.monotonic() - started)

    @staticmethod
    def _feed_stdin(proc: subprocess.Popen[bytes], payload: bytes) -> None:
        assert proc.stdin is not None
        try:
            if payload:
                proc.stdin.write(payload)
            proc.stdin.close()
        except BrokenPipeError:
            pass

    def _pump(self, proc: subprocess.Popen[bytes], out: LineSplitter, err: LineSplitter,
              started: float, timeout: float | None, cancel: threading.Event | None) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        open_streams = 2
        exited_at: float | None = None
        while open_streams:
            for key, _ in sel.select(0.1):
                data = os.read(key.fd, 65536)
                if data:
                    key.data.feed(data)
                else:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
            if cancel is not None and cancel.is_set():
                self._terminate(proc, err.pgid)
                raise Cancelled(self.name, "cancelled; the command was terminated")
            if timeout is not None and time.monotonic() - started > timeout:
                self._terminate(proc, err.pgid)
                raise CommandTimedOut(self.name, f"timed out after {timeout:g}s;"
                                                 " the command was terminated")
            if open_streams and proc.poll() is not None:
                # ended, but something it started still holds its output: do not wait
                # for that (the SSH runner does not either); name it when the step passed
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > LEFT_RUNNING_GRACE:
                    left = _holding_output(proc)
                    if left and proc.returncode == 0:
                        err.feed(f"{LEFT_RUNNING} {left}.{LEFT_RUNNING_ADVICE}\n".encode())
                    break
        sel.close()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):  # whatever still writes there gets EPIPE
            stream.close()

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes], pgid: int | None) -> None:
        group = pgid or proc.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(KILL_GRACE)
                break
            except subprocess.TimeoutExpired:
                continue
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        proc.wait()

    def upload(self, local: Path, remote: str, *, cancel: threading.Event | None = None
               ) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled(self.name, "cancelled before upload")
        try:
            shutil.copyfile(local, remote)
        except OSError as exc:
            raise TransportError(self.name, f"upload to {remote} failed: {exc.strerror}"
                                 ) from None

    def open_tcp(self, address: str, port: int, timeout: float) -> socket.socket:
        """This machine is the host: a plain socket."""
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except TimeoutError:
            raise TcpRefused(self.name, f"{address}:{port}: connect timed out") from None
        except OSError as exc:
            reason = (exc.strerror or str(exc) or type(exc).__name__).lower()
            raise TcpRefused(self.name, f"{address}:{port}: {reason}") from None

    def close(self) -> None:
        """End the operation here: every command still running is killed with its
        whole process group (a cancelled demo deploy must not leave its build running)."""
        with self._lock:
            self._closed = True
            running = list(self._procs.items())
        for proc, err in running:
            self._kill_group(proc, err)

    @staticmethod
    def _kill_group(proc: subprocess.Popen[bytes], err: LineSplitter) -> None:
        # started in a session of its own: the command's pid is its process group id
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(err.pgid or proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            proc.kill()


def _holding_output(proc: subprocess.Popen[bytes]) -> str:
    """`PID (name)` of each process of the step's group that still holds its stdout or
    stderr (the same pipes, by inode), as the SSH runner names them."""
    assert proc.stdout is not None and proc.stderr is not None
    pipes = {os.fstat(proc.stdout.fileno()).st_ino, os.fstat(proc.stderr.fileno()).st_ino}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != proc.pid:
                continue
            if any(os.stat(entry / "fd" / fd).st_ino in pipes for fd in ("1", "2")):
                found.append(f"{entry.name} ({(entry / 'comm').read_text().strip()})")
    return " ".join(found)
