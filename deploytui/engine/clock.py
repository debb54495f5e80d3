"""The engine's one way to write "now" as UTC text (lock info, metadata, history)."""

from __future__ import annotations

import time


def utc_iso(when: float | None = None) -> str:
    """`when` (default now) as ISO 8601 UTC to the second, `2026-11-30T09:06:09Z`: sorts as
    text, reads anywhere."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
