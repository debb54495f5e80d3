"""Turning a byte stream into lines, and the shell wrapper every command runs in.

Both transports share this so that the demo's local hosts behave exactly like SSH
hosts: same line splitting, same process-group handling, same way of passing
environment values without putting them on a command line.
"""

from __future__ import annotations

import codecs
import re
from collections import deque
from collections.abc import Callable, Mapping

from deploytui.engine.hosts.transport import LinesCallback

PGID_MARKER = "\x1edeploytui-pgid "
MAX_LINE = 1 << 20  # characters: a longer line (or output with no newline) is cut here
# What a step that left a process writing to its output is told (both transports)
LEFT_RUNNING = "deploytui: left running in the background, writing to this step's output:"
LEFT_RUNNING_ADVICE = (" Its output is lost from here on, and it may be killed by SIGPIPE:"
                       " redirect it (e.g. `cmd > cmd.log 2>&1 &`) or run it as a service.")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")

# The command and all its children must form one process group whose id is printed
# first (on stderr) and used to terminate all of it on cancel or timeout. sshd already
# makes each session's shell a session (and group) leader, and the remote command line
# `exec`s bash, so over SSH the wrapper is that leader itself: checked from /proc, and
# only when it is not (another server, or a login shell that forks) does it re-run
# itself under `setsid -w`, which costs two more processes per command. Environment
# values arrive NUL-separated on stdin, ended by an empty entry, so they never appear in
# `ps`. DEPLOYTUI_SUDO_PASSWORD stays a shell variable (not exported) read by a `sudo`
# function; everything else is exported.
RECEIVE_ENV = r"""
if [ "$2" = env ]; then
  while IFS= read -r -d '' __dt_kv && [ -n "$__dt_kv" ]; do
    case "$__dt_kv" in
      DEPLOYTUI_SUDO_PASSWORD=*) __dt_sudo_pw=${__dt_kv#*=} ;;
      *) export "$__dt_kv" ;;
    esac
  done
  unset __dt_kv
fi
if [ -n "${__dt_sudo_pw+x}" ]; then
  sudo() { printf '%s\n' "$__dt_sudo_pw" | command sudo -S -p '' "$@"; }
fi
"""  # $2 = env: the environment block follows on stdin (the runner's script uses it too)
# Run by the login shell (any POSIX sh) before it execs bash: a host without bash says
# so in a line of our own, not `sh: 1: exec: bash: not found` (runner.no_bash_reason).
# Why no POSIX-sh fallback: users' steps are bash scripts (pipefail, [[ ]], arrays), and
# the runner's framing needs bash's `read -N`; running them under dash would change
# what every step means. Capistrano's SSHKit likewise runs commands through bash.
NO_BASH_MARKER = b"\x1edeploytui-no-bash "
NEED_BASH = ("command -v bash >/dev/null 2>&1 || { printf '\\036deploytui-no-bash %s\\n'"
             " \"$PATH\" >&2; exit 127; }; ")
_WRAPPER = r"""
__dt_pg=
read -r _ _ _ _ __dt_pg _ < /proc/$$/stat 2>/dev/null
if [ "$__dt_pg" != "$$" ] && [ -z "${__dt_setsid:-}" ]; then
  __dt_setsid=1 exec setsid -w bash --norc --noprofile -c "$BASH_EXECUTION_STRING" "$0" "$@"
fi
unset __dt_pg __dt_setsid
if [ -n "${3:-}" ]; then
  printf '\036deploytui-begin %s\n' "$3"
  printf '\036deploytui-begin %s\n' "$3" >&2
fi
printf '\036deploytui-pgid %s\n' "$$" >&2
""" + RECEIVE_ENV + r"""
eval "$1"
"""


def wrapper_argv(command: str, has_env: bool, token: str = "") -> list[str]:
    """argv for a `bash` running `command` inside the wrapper. With `token`, the
    command's output starts after a begin marker on each stream (runner.BeginCut), so
    what a login shell printed before it is not taken for the command's."""
    argv = ["bash", "--norc", "--noprofile", "-c", _WRAPPER, "deploytui", command,
            "env" if has_env else "-"]
    return [*argv, token] if token else argv


def wrapper_command(command: str, has_env: bool, token: str = "") -> str:
    """The same wrapper as one remote command line (values quoted), `exec`ed by the
    login shell so that it keeps the session leader's pid."""
    import shlex

    return NEED_BASH + "exec " + " ".join(shlex.quote(a)
                                          for a in wrapper_argv(command, has_env, token))


def env_block(env: Mapping[str, str] | None) -> bytes:
    if not env:
        return b""
    # NUL ends an entry (two end the block), and no environment value can hold one
    parts = [f"{k}={v}".replace("\0", "").encode() + b"\0" for k, v in env.items()]
    return b"".join(parts) + b"\0"


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _collapse(raw: str) -> str:
    """A `\r` progress redraw reduced to its last state (`\r\n` endings dropped)."""
    line = raw.rstrip("\r")
    return line.rsplit("\r", 1)[1] if "\r" in line else line


class LineSplitter:
    """Incremental bytes → batches of lines; `\r` progress updates collapse to their last state.

    Each `feed` hands all complete lines of that read to `emit` at once (one call per
    read, not per line). A line longer than `max_line` characters, or output that never
    ends a line, is cut into pieces of `max_line`: memory stays bounded whatever a
    command prints. A tail of recent lines is kept for error messages; the whole text
    only on request (a listing we parse), so a 50 MB `npm install` never sits in memory.
    """

    def __init__(self, emit: Callable[[list[str]], None] | None, *, capture: bool = False,
                 tail: int = 200, max_line: int = MAX_LINE) -> None:
        self._emit = emit
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pieces: list[str] = []  # the unfinished line, in pieces (no quadratic joins)
        self._pending = 0  # characters in _pieces
        self._max = max(1, max_line)
        self._capture: list[str] | None = [] if capture else None
        self._first = True
        self.tail: deque[str] = deque(maxlen=tail)
        self.pgid: int | None = None

    def feed(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if not text:
            return
        if "\n" not in text:
            self._hold(text)
            return
        lines = text.split("\n")
        rest = lines.pop()
        if self._pieces:
            self._pieces.append(lines[0])
            lines[0] = "".join(self._pieces)
            self._pieces, self._pending = [], 0
        if "\r" in text or "\r" in lines[0]:
            lines = [_collapse(line) for line in lines]
        if len(lines[0]) > self._max:
            lines[0:1] = self._cut(lines[0])
        if rest:
            self._hold(rest, lines)
        self._lines(lines)

    def _hold(self, text: str, out: list[str] | None = None) -> None:
        """Keep an unfinished line; a redraw drops what it overwrites; cut at max_line."""
        cut = text.rfind("\r", 0, len(text) - 1)
        if cut >= 0:
            self._pieces, self._pending = [text[cut:]], len(text) - cut
        else:
            self._pieces.append(text)
            self._pending += len(text)
        if self._pending > self._max:
            pieces = self._cut(_collapse("".join(self._pieces)))
            tail = pieces.pop() if len(pieces[-1]) < self._max else ""
            self._pieces, self._pending = ([tail], len(tail)) if tail else ([], 0)
            if out is not None:
                out.extend(pieces)
            else:
                self._lines(pieces)

    def _cut(self, line: str) -> list[str]:
        return [line[i:i + self._max] for i in range(0, len(line), self._max)] or [""]

    def close(self) -> None:
        text = self._decoder.decode(b"", final=True)
        if text:
            self._pieces.append(text)
        if self._pieces:
            line = _collapse("".join(self._pieces))
            self._pieces, self._pending = [], 0
            self._lines(self._cut(line))

    def _lines(self, lines: list[str]) -> None:
        if not lines:
            return
        if self._first:
            self._first = False
            if lines[0].startswith(PGID_MARKER):
                try:
                    self.pgid = int(lines[0][len(PGID_MARKER):])
                    del lines[0]
                except ValueError:
                    pass
                if not lines:
                    return
        if self._capture is not None:
            self._capture.extend(lines)
        self.tail.extend(lines)
        if self._emit is not None:
            self._emit(lines)

    def text(self) -> str:
        lines = self._capture if self._capture is not None else self.tail
        return "\n".join(lines)


def splitters(on_lines: LinesCallback | None, capture: bool) -> tuple[LineSplitter, LineSplitter]:
    """A command's stdout and stderr splitters, both feeding `on_lines` (stdout's text
    kept whole when `capture`)."""
    return (LineSplitter((lambda lines: on_lines(lines, "out")) if on_lines else None,
                         capture=capture),
            LineSplitter((lambda lines: on_lines(lines, "err")) if on_lines else None))
