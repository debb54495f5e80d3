"""One shell per host for a whole operation: each command goes in on its stdin.

Why: a command on a fresh SSH channel costs two round trips (channel open, exec) before
it starts, and on the host a fork of sshd and two execs of bash. An operation runs
three to six commands per host, so on a CPU-bound machine or a far network those costs
are most of a rollback's time. Through the runner a command costs one write, one fork
of a subshell on the host, and one round trip.

The runner reads a header line (`<script bytes> <env|-> <token>`), then exactly that many
bytes of script (`read -N` in the C locale reads bytes, in bulk, never past them). Each
command runs in its own subshell: its own process group (started as a job while `set -m`
is on, so a timeout kills it and not the runner or what an earlier command left
running; waited for with job control off, so a command that is stopped, as a frozen
host's are, is waited for until it ends, not taken for ended), its own cwd, variables,
traps and `exit`, and stdin from /dev/null. The environment block follows the script on
stdin, read by the subshell alone, as the one-shot wrapper does (output.py), so secrets
never reach a command line. Before the subshell, the runner prints a begin marker
carrying the command's token on both streams; after it, an end marker on stderr and,
with the exit status, on stdout. The token is random per command, so no output can end
a command early by accident. A command's output is what lies between its two markers
(Frame): whatever the login shell's rc files print before the runner starts (a
terminal-title escape with no newline, a banner, on either stream) or anything written
between two commands is never taken for a command's output.

A command that succeeded but left a process behind that still writes to its output
(`./server &`) gets one more stderr line naming that process by pid: its output would
land in the commands after it, and it dies of SIGPIPE once the connection closes (a
tool running each command on its own channel hangs on it instead). `kill -0` on the
command's process group is all it costs when nothing was left. A process still named
like the runner's shell is a fork that has not exec'd its program yet (`sleep 5 &` on a
busy host): it is given up to two seconds to take the name the user typed.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Mapping

from deploytui.engine.hosts.output import (
    LEFT_RUNNING,
    LEFT_RUNNING_ADVICE,
    NEED_BASH,
    NO_BASH_MARKER,
    RECEIVE_ENV,
    env_block,
)

END_MARKER = b"\x1edeploytui-end "
BEGIN_MARKER = b"\x1edeploytui-begin "
PREAMBLE_KEPT = 4096  # bytes of what came before a begin marker kept to explain a failure

_RUNNER = r"""
__dt_left() {
  local group=$1 d s name left= self tries
  IFS= read -r self < /proc/$$/comm
  for d in /proc/[0-9]*; do
    IFS= read -r s 2>/dev/null < "$d/stat" || continue  # (2> first: a process gone)
    s=${s##*) }; set -- $s
    [ "$3" = "$group" ] || continue
    if [ "$d/fd/1" -ef /proc/$$/fd/1 ] || [ "$d/fd/2" -ef /proc/$$/fd/2 ]; then
      IFS= read -r name 2>/dev/null < "$d/comm"
      tries=0
      while [ "$name" = "$self" ] && [ $((tries += 1)) -le 40 ]; do
        sleep 0.05
        IFS= read -r name 2>/dev/null < "$d/comm" || break
      done
      # a fork caught before its own redirections (`cmd >/dev/null 2>&1 &`) has let go
      # of our output once it has exec'd: only one still holding it is news
      [ "$d/fd/1" -ef /proc/$$/fd/1 ] || [ "$d/fd/2" -ef /proc/$$/fd/2 ] || continue
      left+=" ${d#/proc/} ($name)"
    fi
  done
  [ -z "$left" ] || printf '%s%s.%s\n' """ + shlex.quote(LEFT_RUNNING) + r""" "$left" \
    """ + shlex.quote(LEFT_RUNNING_ADVICE) + r""" >&2
}
while IFS= read -r __dt_h; do
  set -- $__dt_h
  LC_ALL=C IFS= read -r -N "$1" __dt_s || exit 0
  printf '\036deploytui-begin %s\n' "$3"
  printf '\036deploytui-begin %s\n' "$3" >&2
  set -m 2>/dev/null
  (
    set +m
    __dt_pg=$BASHPID
    read -r _ _ _ _ __dt_pg _ < /proc/$BASHPID/stat 2>/dev/null
    printf '\036deploytui-pgid %s\n' "$__dt_pg" >&2
""" + RECEIVE_ENV + r"""
    exec </dev/null
    unset __dt_h __dt_pg; unset -f __dt_left
    set -- deploytui
    eval "$__dt_s"
  ) <&0 &
  set +m
  wait "$!" 2>/dev/null
  __dt_rc=$?
  [ "$__dt_rc" != 0 ] || ! kill -0 -- "-$!" 2>/dev/null || __dt_left "$!"
  printf '\036deploytui-end %s\n' "$3" >&2
  printf '\036deploytui-end %s %s\n' "$3" "$__dt_rc"
done
"""


def runner_command() -> str:
    """The remote command line that starts the runner (`exec`ed by the login shell)."""
    return NEED_BASH + "exec bash --norc --noprofile -c " + shlex.quote(_RUNNER) + " deploytui"


def no_bash_reason(preamble: bytes) -> str | None:
    """What to say when the login shell found no bash (NEED_BASH's line), else None."""
    found = preamble.find(NO_BASH_MARKER)
    if found < 0:
        return None
    path = preamble[found + len(NO_BASH_MARKER):].split(b"\n", 1)[0].decode(errors="replace")
    return (f"bash is required on the host and was not found (PATH={path.strip()});"
            " install bash (deploytui runs every command with it)")


def new_token() -> str:
    return secrets.token_hex(8)


def request(command: str, env: Mapping[str, str] | None, token: str) -> bytes:
    """What the runner reads for one command: header, script, environment block."""
    # bash drops NUL bytes from what it reads: one would shift every byte after it
    script = (command.replace("\0", "") or ":").encode()
    return (f"{len(script)} {'env' if env else '-'} {token}\n".encode() + script
            + env_block(env))


def _partial_tail(buf: bytes, marker: bytes) -> int:
    """How many bytes at the end of buf could be the start of `marker`."""
    start = buf.rfind(b"\x1e", max(0, len(buf) - len(marker) + 1))
    if start < 0 or not marker.startswith(buf[start:]):
        return 0
    return len(buf) - start


class BeginCut:
    """Drops what a stream carries before one command's begin marker line.

    That is the login shell's rc files' output (any bytes, a line without its newline)
    or leftovers between two commands. The last PREAMBLE_KEPT bytes of it stay in
    `preamble`, to explain a shell that ended before the command began.
    """

    def __init__(self, token: str) -> None:
        self._marker = BEGIN_MARKER + token.encode() + b"\n"
        self._held = b""
        self.begun = False
        self.preamble = b""

    def feed(self, data: bytes) -> bytes:
        if self.begun:
            return data
        buf = self._held + data if self._held else data
        found = buf.find(self._marker)
        if found < 0:
            keep = _partial_tail(buf, self._marker)
            self._skip(buf[:len(buf) - keep])
            self._held = buf[len(buf) - keep:] if keep else b""
            return b""
        self._skip(buf[:found])
        self.begun = True
        self._held = b""
        return buf[found + len(self._marker):]

    def _skip(self, data: bytes) -> None:
        if data:
            self.preamble = (self.preamble + data)[-PREAMBLE_KEPT:]


class Frame:
    """One command's share of a runner's (or a wrapper's) stream: after its begin
    marker, before its end marker (`end` is None for a one-channel command, whose
    stream simply ends)."""

    def __init__(self, token: str, *, end: bool = True) -> None:
        self.begin = BeginCut(token)
        self.end = EndCut(token) if end else None

    def feed(self, data: bytes) -> bytes:
        data = self.begin.feed(data)
        if self.end is None or not data:
            return data
        return self.end.feed(data)

    @property
    def done(self) -> bool:
        return self.end is not None and self.end.done


class EndCut:
    """Cuts one command's share out of a runner's stream (stdout or stderr).

    `feed` returns the bytes that belong to the command; from the end marker on it
    returns nothing and `done` is set (`status` holds what followed the token: the exit
    status on stdout). A marker split across reads is held back until it is whole.
    """

    def __init__(self, token: str) -> None:
        self._marker = END_MARKER + token.encode()
        self._held = b""
        self.done = False
        self.status = ""

    def feed(self, data: bytes) -> bytes:
        if self.done:
            return b""
        buf = self._held + data if self._held else data
        found = buf.find(self._marker)
        if found < 0:
            keep = _partial_tail(buf, self._marker)
            self._held = buf[len(buf) - keep:] if keep else b""
            return buf[:len(buf) - keep] if keep else buf
        line_end = buf.find(b"\n", found)
        if line_end < 0:  # the marker is here, the rest of its line is not yet
            self._held = buf[found:]
            return buf[:found]
        self.status = buf[found + len(self._marker):line_end].decode(errors="replace").strip()
        self.done = True
        self._held = b""
        return buf[:found]

    def exit_code(self) -> int:
        try:
            return int(self.status)
        except ValueError:
            return -1
