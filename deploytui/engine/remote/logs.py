"""The one shell script that shows (and follows) a host's logs: `deploytui logs`.

Files are followed like `tail -F` (by name: a rotated file is left for the new one,
a truncated one read again from its start), each from the exact byte where its
backlog (the last N lines) ended, so no line is shown twice and none is skipped
between the two: the script notes every file's size first, prints the last N lines
of the bytes before it, then follows from that byte on. A marker line on stdout
separates the backlog from what follows, so a reconnect can drop the lines already
shown (operations/logs.py).

Globs are expanded once, when the script starts, by bash's `compgen -G` on the quoted
pattern: the pattern is data, never code. `--grep` runs on the host (`grep -E`), so a
flood the user filters never crosses the network. `--since` means what it can for
each source: journalctl gets `--since`; a file (its lines carry no timestamp we
could trust) shows no backlog when it was last modified before the window.

Everything runs in the command's process group, which the transport terminates on a
cancel (hosts/channel_reader.py): nothing keeps running on the host after we go.
"""

from __future__ import annotations

import posixpath
import shlex
from dataclasses import dataclass

from deploytui.engine.shell import q

BACKLOG_END = "\x1edeploytui-backlog"
WINDOW_PER_LINE = 4096  # bytes read back per backlog line wanted: tail never reads a
WINDOW_MIN = 65536  # whole big file, and a line longer than this is rare in a log


@dataclass(frozen=True)
class LogSources:
    """What one host shows: file patterns (absolute on the host) and commands."""

    files: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    cwd: str = ""  # where commands run: the release `current` serves

    def describe(self) -> str:
        return ", ".join([*self.files, *(f"$ {c}" for c in self.commands)])


def resolve(path: str, serving: str) -> str:
    """A configured log path on the host: absolute as written, else below `serving`."""
    return path if path.startswith("/") else posixpath.join(serving, path)


def is_journalctl(command: str) -> bool:
    """journalctl (perhaps behind sudo): the one log command whose flags we know."""
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    while words and (words[0] in ("sudo", "exec") or words[0].startswith("-")):
        words.pop(0)
    return bool(words) and posixpath.basename(words[0]) == "journalctl"


def _grep(pattern: str | None, follow: bool) -> str:
    if pattern is None:
        return ""
    buffered = " --line-buffered" if follow else ""
    return f" | grep{buffered} -E -e {q(pattern)}"


_FILES = r"""
__dt_f=() __dt_o=() __dt_k=()
__dt_add() {
  case $1 in
    *[\*\?\[]*)
      local __dt_m= __dt_x
      while IFS= read -r __dt_x; do __dt_f+=("$__dt_x"); __dt_m=1; done < <(compgen -G "$1")
      [ -n "$__dt_m" ] || printf '%s\n' "no file matches $1 (not followed)" >&2 ;;
    *) __dt_f+=("$1") ;;
  esac
}
"""

_SIZES = r"""
printf -v __dt_now '%(%s)T' -1 2>/dev/null || __dt_now=$(date +%s)
for __dt_x in "${__dt_f[@]}"; do
  if [ -f "$__dt_x" ]; then
    __dt_o+=("$(wc -c < "$__dt_x")")
    if [ -n "$__dt_since" ]; then
      __dt_t=$(stat -c %Y -- "$__dt_x" 2>/dev/null || echo 0)
      __dt_k+=($(( __dt_now - __dt_t <= __dt_since )))
    else
      __dt_k+=(1)
    fi
  else
    __dt_o+=(0) __dt_k+=(0)
    [ -n "$__dt_follow" ] || printf '%s\n' "$__dt_x: no such file" >&2
  fi
done
"""

_BACKLOG = r"""
for __dt_i in "${!__dt_f[@]}"; do
  __dt_s=${__dt_o[$__dt_i]}
  [ "${__dt_k[$__dt_i]}" = 1 ] && [ "$__dt_s" -gt 0 ] || continue
  __dt_w=$(( __dt_s > __dt_win ? __dt_s - __dt_win : 0 ))
  tail -c +$(( __dt_w + 1 )) -- "${__dt_f[$__dt_i]}" | head -c $(( __dt_s - __dt_w )) \
    | tail -n "$__dt_n"
done
"""

_FOLLOW = r"""
for __dt_i in "${!__dt_f[@]}"; do
  tail -F -c +$(( ${__dt_o[$__dt_i]} + 1 )) -- "${__dt_f[$__dt_i]}" &
done
"""


def logs_script(sources: LogSources, *, lines: int, follow: bool,
                since: float | None = None, grep: str | None = None) -> str:
    """The bash text run on one host (through the transport, so as one process group).

    Without `follow`: the last `lines` lines of each source, then it ends. With it:
    that backlog, BACKLOG_END on its own line, then new lines until terminated.
    """
    n = max(0, int(lines))
    since_s = "" if since is None else str(max(0, int(since)))
    parts = [f"__dt_n={n} __dt_since={since_s} __dt_win={max(WINDOW_MIN, n * WINDOW_PER_LINE)}",
             f"__dt_follow={'1' if follow else ''}",
             f"export DEPLOYTUI_LOG_LINES={n} DEPLOYTUI_LOG_FOLLOW={'1' if follow else ''}"
             f" DEPLOYTUI_LOG_SINCE={since_s}"]
    filter_backlog, filter_follow = _grep(grep, False), _grep(grep, follow)
    if sources.files:
        parts.append(_FILES)
        parts.extend(f"__dt_add {q(pattern)}" for pattern in sources.files)
        parts.append(_SIZES)
    cd = f"cd {q(sources.cwd)} 2>/dev/null; " if sources.cwd else ""
    backlog: list[str] = []
    if sources.files and n:
        backlog.append(_BACKLOG)
    followed: list[str] = []
    for command in sources.commands:
        if is_journalctl(command):
            extra = f" --no-pager -n {n}" + (f" --since={q(f'-{since_s}s')}" if since_s else "")
            (followed if follow else backlog).append(
                f"( {cd}{command}{extra}{' -f' if follow else ''} ) </dev/null")
        elif follow:
            followed.append(f"( {cd}{command} ) </dev/null")
        elif n:
            backlog.append(f"( {cd}{command} ) </dev/null | tail -n {n}")
    if backlog:
        parts.append("{\n" + "\n".join(backlog) + "\n}" + filter_backlog)
    if follow:
        parts.append(f"printf '%s\\n' {q(BACKLOG_END)}")
        body = []
        if sources.files:
            body.append(_FOLLOW)
        body.extend(f"{c} &" for c in followed)
        body.append("wait")
        parts.append("{\n" + "\n".join(body) + "\n}" + filter_follow)
    return "\n".join(parts) + "\n"
