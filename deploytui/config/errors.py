"""What a bad config file looks like to the user: one line per problem, each naming where.

A problem line is `FILE:LINE: key.path: what is wrong` so an editor can jump to it;
YAML syntax errors add the column (`FILE:LINE:COL:`). The loader collects every
problem of a file in one pass and raises them together, so the user fixes them all
at once instead of one per run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong (or, as a warning, doubtful) in a config file."""

    file: str | None  # None: not about one file (e.g. no config file was found)
    line: int | None  # 1-based; None when the file could not be read at all
    key: str  # dotted path such as projects.shop.keep_releases; "" for the whole file
    message: str
    column: int | None = None  # 1-based; only for YAML syntax errors

    def __str__(self) -> str:
        where = [str(part) for part in (self.file, self.line, self.column) if part is not None]
        prefix = ":".join(where) + ": " if where else ""
        key = f"{self.key}: " if self.key else ""
        return f"{prefix}{key}{self.message}"


class ConfigError(Exception):
    """The config cannot be used; `problems` holds every reason, one line each."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    @classmethod
    def single(cls, message: str, file: str | None = None, key: str = "") -> ConfigError:
        """An error that is about a whole file (or no file), not a line in it."""
        return cls([ConfigProblem(file, None, key, message)])
