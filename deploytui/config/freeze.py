"""An environment's `freeze:` windows, and the top-level `requires:` guard.

    freeze:
      - {from: "2026-12-23T00:00:00Z", to: "2027-01-04T08:00:00Z", reason: holidays}
      - {weekly: {from: "Fri 16:00", to: "Mon 08:00"}, tz: Europe/Berlin, reason: weekend}

A one-off window takes ISO 8601 times; one written without an offset is read in `tz`
(default UTC). A weekly window names a day (Mon..Sun) and a time in `tz` (an IANA
zone, read with zoneinfo, so daylight saving is the zone's own).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from deploytui.config.fields import Invalid, Reader
from deploytui.config.model import FreezeWindow
from deploytui.config.yamlnodes import Node, join

FREEZE_KEYS = ("from", "to", "reason", "weekly", "tz")
WEEKLY_KEYS = ("from", "to")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKLY = re.compile(r"^\s*([A-Za-z]{3})[a-z]*\s+(\d{1,2}):(\d{2})\s*$")
_REQUIRES = re.compile(r"^\s*>=\s*(\d+(?:\.\d+)*)\s*$")


def read_freeze(node: Node, path: str, reader: Reader) -> tuple[FreezeWindow, ...]:
    if node.kind != "list":
        raise reader.wrong(node, path, "a list of windows ({from, to, reason} or "
                                       "{weekly: {from, to}, tz, reason})")
    windows = []
    for index, item in enumerate(node.value):
        try:
            windows.append(_window(item, f"{path}[{index}]", reader))
        except Invalid:
            continue
    return tuple(windows)


def _window(node: Node, path: str, reader: Reader) -> FreezeWindow:
    entries = reader.mapping(node, path, FREEZE_KEYS, required=("reason",),
                             what="a mapping with from, to, reason (or weekly, tz, reason)")
    if "reason" not in entries:
        raise Invalid("no reason")
    reason = reader.string(entries["reason"], join(path, "reason"))
    tz = "UTC"
    if "tz" in entries:
        tz = _zone(entries["tz"], join(path, "tz"), reader)
    if "weekly" in entries:
        if "from" in entries or "to" in entries:
            raise reader.error(node.line, path, "give either weekly or from/to, not both")
        week = reader.mapping(entries["weekly"], join(path, "weekly"), WEEKLY_KEYS,
                              required=WEEKLY_KEYS, what="a mapping with from and to")
        if set(week) != set(WEEKLY_KEYS):
            raise Invalid("incomplete weekly window")
        week_begin = _weekly(week["from"], join(path, "weekly.from"), reader)
        week_end = _weekly(week["to"], join(path, "weekly.to"), reader)
        if week_begin == week_end:
            raise reader.error(week["to"].line, join(path, "weekly.to"),
                               "must differ from weekly.from")
        return FreezeWindow(reason, weekly=(week_begin, week_end), tz=tz, line=node.line)
    missing = [k for k in ("from", "to") if k not in entries]
    if missing:
        raise reader.error(node.line, path, f"missing required key '{missing[0]}' (or give"
                                            " weekly: {from, to})")
    start = _instant(entries["from"], join(path, "from"), reader, tz)
    end = _instant(entries["to"], join(path, "to"), reader, tz)
    if end <= start:
        raise reader.error(entries["to"].line, join(path, "to"), "must be after from")
    return FreezeWindow(reason, start=start, end=end, tz=tz, line=node.line)


def _zone(node: Node, path: str, reader: Reader) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = reader.string(node, path)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise reader.error(node.line, path, f"unknown time zone '{name}' (an IANA name such"
                                            " as Europe/Berlin or UTC)") from None
    return name


def _text(node: Node) -> str:
    return node.text if node.kind == "scalar" and node.text else str(node.value or "")


def parse_instant(text: str, tz: str = "UTC") -> datetime:
    """ISO 8601; without an offset, in `tz`. Raises ValueError."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        from zoneinfo import ZoneInfo

        value = value.replace(tzinfo=UTC if tz == "UTC" else ZoneInfo(tz))
    return value


def _instant(node: Node, path: str, reader: Reader, tz: str) -> datetime:
    if node.kind != "scalar" or node.is_null:
        raise reader.wrong(node, path, "an ISO 8601 time such as 2026-12-23T00:00:00Z")
    try:
        return parse_instant(_text(node), tz)
    except ValueError:
        raise reader.error(node.line, path, f"expected an ISO 8601 time such as"
                                            f" 2026-12-23T00:00:00Z, got '{_text(node)}'") from None


def _weekly(node: Node, path: str, reader: Reader) -> int:
    """`Fri 16:00` as minutes since Monday 00:00."""
    text = _text(node)
    match = _WEEKLY.match(text)
    day = match.group(1).lower() if match else ""
    if not match or day not in DAYS or int(match.group(2)) > 23 or int(match.group(3)) > 59:
        raise reader.error(node.line, path, f"expected a day and a time such as 'Fri 16:00',"
                                            f" got '{text}'")
    return DAYS.index(day) * 1440 + int(match.group(2)) * 60 + int(match.group(3))


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def check_requires(node: Node, reader: Reader, version: str) -> None:
    """`requires: ">=X.Y"`: refuse a deploytui older than the config needs."""
    text = _text(node)
    match = _REQUIRES.match(text)
    if not match:
        raise reader.error(node.line, "requires", f"expected a version such as '>=0.2',"
                                                  f" got '{text}'")
    needed = match.group(1)
    width = max(len(_numbers(needed)), 3)
    have = _numbers(version) + (0,) * width
    want = _numbers(needed) + (0,) * width
    if have[:width] < want[:width]:
        raise reader.error(node.line, "requires", f"this config needs deploytui {needed} or"
                                                  f" newer; this is deploytui {version}"
                                                  " (upgrade it: pip install -U deploytui)")
