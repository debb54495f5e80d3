"""Writing a deploy's release metadata on each host, state by state, with its history.

The file (layout.ReleaseMeta) records every transition (`preparing at T`, `ready at T`,
...). Writes that happen inside a longer remote script (preparing, ready) take their
time from the host's clock when they run, not from when the script was written.
"""

from __future__ import annotations

from deploytui.engine.clock import utc_iso
from deploytui.engine.remote.layout import Layout, ReleaseMeta, write_meta_command
from deploytui.engine.shell import UTC_NOW, ensure_dir, q

_NOW = "@@DEPLOYTUI-NOW@@"


class MetaWriter:
    """The commands that move one release's metadata through its states, per host."""

    def __init__(self, meta: ReleaseMeta, layouts: dict[str, Layout]) -> None:
        self.meta = meta
        self.layouts = layouts
        self.history: dict[str, list[str]] = {}  # host -> transitions written so far

    def command(self, host: str, state: str, *, host_clock: bool = False) -> str:
        """Write `state` (atomically: temp file + mv); host_clock stamps it when it runs."""
        history = self.history.setdefault(host, [])
        history.append(f"{state} at {_NOW if host_clock else utc_iso()}")
        meta = ReleaseMeta(**{**self.meta.__dict__, "state": state, "history": list(history)})
        layout = self.layouts[host]
        path = q(layout.metadata(meta.release_id))
        text = meta.to_json()
        if host_clock:
            history[-1] = f"{state} at {utc_iso()}"  # our best guess for later writes
            return (f"{UTC_NOW}; __dt_meta={q(text)}; "
                    f"{ensure_dir(layout.metadata_dir)} && "
                    f"printf '%s\\n' \"${{__dt_meta//{_NOW}/$__dt_now}}\" > {path}.tmp"
                    f" && mv -f {path}.tmp {path}")
        return write_meta_command(layout, meta)
