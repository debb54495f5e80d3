"""Which config file to use: --config, then $DEPLOYTUI_CONFIG, ./deploytui.yml, the user's.

An explicit choice (the option or the variable) that names a missing file is an
error, never a silent fall-through to another file: deploying with the wrong config
is worse than not deploying.
"""

from __future__ import annotations

import os
from pathlib import Path

from deploytui.config.errors import ConfigError

ENV_VAR = "DEPLOYTUI_CONFIG"
LOCAL_NAME = "deploytui.yml"


def user_config_path() -> Path:
    """The per-user config file (XDG on Linux, ~/Library/Application Support on macOS)."""
    import platformdirs  # only when it is needed: it is the last place looked at

    return Path(platformdirs.user_config_dir("deploytui")) / "config.yml"


def locate_config(explicit: Path | None = None) -> Path:
    """The config file to load, or a ConfigError whose one line lists where it looked."""
    if explicit is not None:
        return _must_exist(Path(explicit).expanduser(), "--config")
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        return _must_exist(Path(from_env).expanduser(), f"${ENV_VAR}")
    local = Path(LOCAL_NAME)
    if local.exists():
        return local
    user = user_config_path()
    if user.exists():
        return user
    raise ConfigError.single(
        f"no config file found (looked for --config, ${ENV_VAR}, ./{LOCAL_NAME}, {user}); "
        f"`deploytui init` writes a starter ./{LOCAL_NAME} for your app, `deploytui demo` "
        "opens the built-in demo")


def _must_exist(path: Path, source: str) -> Path:
    if not path.exists():
        raise ConfigError.single(f"no such file (from {source})", file=str(path))
    return path
