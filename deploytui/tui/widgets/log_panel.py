"""The log pane: one `Log` showing the selected host, or all hosts with prefixes.

Only this widget is ever written to (the rest stays in LogBuffer). Follow mode keeps
the view at the end; switching host back-fills from the buffer. Lines may carry a
tool's SGR colour codes (LogBuffer keeps only those): a line is parsed as ANSI only
when it is drawn, so colour costs nothing for lines never on screen.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widgets import Log

from deploytui.tui.keymap import LOG_VIM_BINDINGS
from deploytui.tui.log_buffer import plain


class LogPanel(Log):
    BINDINGS = LOG_VIM_BINDINGS

    def __init__(self, max_lines: int, **kwargs) -> None:
        super().__init__(max_lines=max_lines, highlight=False, auto_scroll=True, **kwargs)
        self.host: str | None = None  # None: all hosts
        self.filter_text = ""
        self.follow = True

    @classmethod
    def _process_line(cls, line: str) -> str:
        """The line as text (widths, selection): colour codes dropped."""
        return super()._process_line(plain(line))

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        line = self._lines[y]
        if "\x1b" not in line or self.text_selection is not None:
            return super()._render_line_strip(y, rich_style)
        text = Text.from_ansi(line.expandtabs(), no_wrap=True, end="")
        text.stylize_before(rich_style)  # the tool's colours win over the pane's style
        return Strip(text.render(self.app.console), text.cell_len)

    def _keep(self, lines: list[str]) -> list[str]:
        if not self.filter_text:
            return lines
        needle = self.filter_text.lower()
        return [ln for ln in lines if needle in plain(ln).lower()]

    def show(self, host: str | None, lines: list[str]) -> None:
        self.host = host
        self.border_title = (f"log · {host}" if host else "log · all hosts") + (
            f" · lines with '{self.filter_text}'" if self.filter_text else "")
        self.clear()
        self.write_lines(self._keep(lines), scroll_end=self.follow)

    def add(self, lines: list[str], *, force: bool = False) -> None:
        """Append lines (those matching the filter, unless `force`: separators)."""
        kept = lines if force else self._keep(lines)
        if kept:
            self.write_lines(kept, scroll_end=self.follow if self.follow else False)

    def set_follow(self, follow: bool) -> None:
        self.follow = follow
        self.auto_scroll = follow
        self.border_subtitle = "follow" if follow else "paused"
        if follow:
            self.scroll_end(animate=False)
