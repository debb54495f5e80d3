"""Where deploytui keeps its files on this machine: one place, so tests can redirect it.

`DEPLOYTUI_DATA_DIR` overrides the data directory (journal, per-host logs) so that a
test never touches the real user directory; `DEPLOYTUI_CONFIG_DIR` does the same for
the user config directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "deploytui"


def data_dir() -> Path:
    """The journal and the deploy logs live here (created on demand)."""
    override = os.environ.get("DEPLOYTUI_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """The user config directory (not created: only read when it exists)."""
    override = os.environ.get("DEPLOYTUI_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP, appauthor=False))


def journal_path() -> Path:
    return data_dir() / "history.sqlite3"


def logs_dir() -> Path:
    return data_dir() / "logs"
