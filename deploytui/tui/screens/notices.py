"""Every notification of this session, newest first: errors outlive their toast."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

from deploytui.tui.screens.modals import SummaryModal


class _Notice(Protocol):
    @property
    def at(self) -> float: ...
    @property
    def severity(self) -> str: ...
    @property
    def message(self) -> str: ...


class NoticesScreen(SummaryModal):
    def __init__(self, notices: Sequence[_Notice]) -> None:
        lines = [f"{time.strftime('%H:%M:%S', time.localtime(n.at))} "
                 f"{'ERROR ' if n.severity == 'error' else ''}{n.message}"
                 for n in reversed(notices)] or ["no notifications yet"]
        super().__init__("Notifications", lines, ok=True)
        self.notices = list(notices)

