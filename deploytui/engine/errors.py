"""How a failure becomes the one line a user reads.

A deploy tool is read most when something went wrong, and tools rarely end with the
cause: git prints `fatal: detected dubious ownership…`, hints, then `fatal: Could not
read from remote repository.` and `and the repository exists.`; Python ends a traceback
with the exception but starts it with frames; pip and apt print the error, then advice.
So the one line is the FIRST line that states a failure, and only when no line does,
the last non-empty line. The full output always stays in the log.
"""

from __future__ import annotations

import re

# A line that states a failure, as real tools word it (checked after stripping):
#   git `fatal:` / `error:`, pip `ERROR:`, apt `E:`, npm `npm ERR!` / `npm error`,
#   node `Error: …`, Python's `ValueError: …`, a shell's `…: command not found`,
#   sudo's and ssh's own `sudo: …` / `ssh: …` complaints, `Permission denied`, and
#   ssh's other first words when git runs it (`Host key verification failed.`, …).
_FAILURE = re.compile(
    r"""^(?i:fatal|error|panic)\s*[:!]         # fatal: / error: / Error: / panic:
      | ^ERROR\b                                # ERROR: / ERROR 1045 (pip, mysql, …)
      | ^E:\s                                   # apt-get: E: Unable to locate package
      | ^npm\ (?:ERR!|error)\s
      | ^sudo:\s
      | ^ssh:\s                                 # ssh: connect to host … Connection refused
      | ^Host\ key\ verification\ failed        # ssh's own words, before git's `fatal:`
      | ^Received\ disconnect\ from\ .*:\d+:     # … Too many authentication failures
      | ^kex_exchange_identification:
      | ^Connection\ (?:closed\ by|reset\ by|timed\ out)\b
      | ^[\w.]*(?:Error|Exception):\s           # Python: subprocess.CalledProcessError: …
      | \b(?i:fatal|error):\s                   # file.c:3:1: error: …, remote: fatal: …
      | :\ command\ not\ found$
      | \bPermission\ denied\b
    """, re.VERBOSE)
_TRACEBACK = "Traceback (most recent call last):"


def failure_line(*texts: str) -> str:
    """The one line that says why, from a command's output (stderr first, then stdout).

    The first failure-stating line of the first text that has one; a Python traceback
    counts as its exception line (`ValueError: …`); failing that, the last non-empty
    line of the first text that has any; "" when every text is blank.
    """
    lines_of = [[ln.rstrip() for ln in text.splitlines() if ln.strip()] for text in texts]
    for lines in lines_of:
        found = _first_failure(lines)
        if found:
            return found
    for lines in lines_of:
        if lines:
            return lines[-1].strip()
    return ""


def _first_failure(lines: list[str]) -> str:
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _TRACEBACK in stripped:
            return _exception_line(lines, i, line) or stripped
        if _FAILURE.search(stripped):
            return stripped
    return ""


def _exception_line(lines: list[str], start: int, header: str) -> str:
    """The exception a traceback ends with: its first line indented no deeper than the
    `Traceback` header (frames are indented below it)."""
    indent = len(header) - len(header.lstrip())
    for line in lines[start + 1:]:
        if len(line) - len(line.lstrip()) <= indent:
            return line.strip()
    return ""


def one_line(error: BaseException | str) -> str:
    """The one line of an exception's text (or any text), by failure_line's rule; an
    exception with no text reads as its type's name."""
    text = error if isinstance(error, str) else str(error)
    found = failure_line(text)
    if found:
        return found
    return "no output" if isinstance(error, str) else type(error).__name__
