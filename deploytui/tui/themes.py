"""Themes as data: YAML files (keys = textual Theme fields) loaded and registered at start.

Built-in themes ship inside the package (deploytui/themes/*.yml, mirrored in the repo's
top-level themes/ folder); a user's own go in <config dir>/themes/. A broken file is
reported and skipped, never a crash. The chosen theme is remembered in the data dir.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import yaml
from textual.theme import Theme

from deploytui import paths

DEFAULT_THEME = "deploytui-dark"
_STATE_FILE = "console.json"


def builtin_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "themes"


def user_dir() -> Path:
    return paths.config_dir() / "themes"


def theme_from_data(data: object, source: str) -> Theme:
    """One Theme from parsed YAML; ValueError (one line) when it is not a valid theme."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a theme file must be a mapping of Theme fields")
    allowed = {f.name for f in fields(Theme)}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"{source}: unknown theme key(s): {', '.join(map(str, unknown))}")
    if not isinstance(data.get("name"), str) or not isinstance(data.get("primary"), str):
        raise ValueError(f"{source}: a theme needs at least `name` and `primary`")
    variables = data.get("variables") or {}
    if not isinstance(variables, dict):
        raise ValueError(f"{source}: `variables` must be a mapping")
    try:
        theme = Theme(**{**data, "variables": {str(k): str(v) for k, v in variables.items()}})
        theme.to_color_system()  # validates every colour now, not at first paint
    except Exception as exc:
        raise ValueError(f"{source}: {exc}".splitlines()[0]) from None
    return theme


def load_themes(dirs: list[Path] | None = None) -> tuple[list[Theme], list[str]]:
    """Every theme in `dirs` (later dirs override earlier names) and one error line per bad file."""
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    for folder in dirs if dirs is not None else [builtin_dir(), user_dir()]:
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
            try:
                data = _read_yaml(path.read_text(encoding="utf-8"))
                theme = theme_from_data(data, path.name)
            except yaml.YAMLError as exc:
                errors.append(f"{path.name}: not valid YAML ({str(exc).splitlines()[0]})")
                continue
            except (ValueError, OSError) as exc:
                errors.append(str(exc))
                continue
            themes[theme.name] = theme
    return list(themes.values()), errors


_C_LOADER = getattr(yaml, "CSafeLoader", None)


def _read_yaml(text: str) -> object:
    """libyaml when PyYAML has it (6x faster: start-up reads every theme); a broken
    file is read again in pure Python so that its error message stays the usual one."""
    if _C_LOADER is not None:
        try:
            return yaml.load(text, Loader=_C_LOADER)  # the safe loader, in C
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def _state_path() -> Path:
    return paths.data_dir() / _STATE_FILE


def remembered_theme() -> str | None:
    try:
        value = json.loads(_state_path().read_text()).get("theme")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def remember_theme(name: str) -> None:
    """Best effort: a read-only data dir must not break theme switching."""
    path = _state_path()
    try:
        state = json.loads(path.read_text()) if path.exists() else {}
        if not isinstance(state, dict):
            state = {}
        state["theme"] = name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)
    except (OSError, ValueError):
        pass
