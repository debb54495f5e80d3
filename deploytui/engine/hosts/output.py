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

PGID_MARKER = "\x1edeploytui-pgid "
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")

# Runs under `setsid -w`, so the command and all its children form one process group
# whose id is printed first (on stderr) and used to terminate all of it on cancel or
# timeout. Environment values arrive NUL-separated on stdin, ended by an empty entry, so
# they never appear in `ps`. DEPLOYTUI_SUDO_PASSWORD stays a shell variable (not exported)
# read by a `sudo` function; everything else is exported.
_WRAPPER = r"""
printf '\036deploytui-pgid %s\n' "$$" >&2
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
eval "$1"
"""


def wrapper_argv(command: str, has_env: bool) -> list[str]:
    """argv for a local `bash` running `command` inside the wrapper."""
    return ["setsid", "-w", "bash", "--norc", "--noprofile", "-c", _WRAPPER, "deploytui", command,
            "env" if has_env else "-"]


def wrapper_command(command: str, has_env: bool) -> str:
    """The same wrapper as one remote command line (values quoted)."""
    import shlex

    return "exec " + " ".join(shlex.quote(a) for a in wrapper_argv(command, has_env))


def env_block(env: Mapping[str, str] | None) -> bytes:
    if not env:
        return b""
    parts = [f"{k}={v}".encode() + b"\0" for k, v in env.items()]
    return b"".join(parts) + b"\0"


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class LineSplitter:
    """Incremental bytes → lines; `\\r` progress updates collapse to their last state.

    A tail of recent lines is kept for error messages; the whole text only on request
    (a listing we parse), so a 50 MB `npm install` never sits in memory.
    """

    def __init__(self, emit: Callable[[str], None] | None, *, capture: bool = False,
                 tail: int = 200) -> None:
        self._emit = emit
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""
        self._capture: list[str] | None = [] if capture else None
        self.tail: deque[str] = deque(maxlen=tail)
        self.pgid: int | None = None

    def feed(self, data: bytes) -> None:
        text = self._partial + self._decoder.decode(data)
        *lines, self._partial = text.split("\n")
        for line in lines:
            self._line(line)

    def close(self) -> None:
        text = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        if text:
            self._line(text)

    def _line(self, raw: str) -> None:
        line = raw.rstrip("\r")
        if "\r" in line:
            line = line.rsplit("\r", 1)[1]
        if self.pgid is None and line.startswith(PGID_MARKER):
            try:
                self.pgid = int(line[len(PGID_MARKER):])
                return
            except ValueError:
                pass
        if self._capture is not None:
            self._capture.append(line)
        self.tail.append(line)
        if self._emit is not None:
            self._emit(line)

    def text(self) -> str:
        lines = self._capture if self._capture is not None else self.tail
        return "\n".join(lines)
