"""YAML config -> validated, typed model (see model.py); every problem names its line.

The public surface: `load_config`, `load_config_text`, `locate_config`, `ConfigError`,
`ConfigProblem`, and the model's classes re-exported for convenience.
"""

from deploytui.config.errors import ConfigError, ConfigProblem
from deploytui.config.loader import load_config, load_config_text, read_config_file
from deploytui.config.locate import locate_config, user_config_path
from deploytui.config.model import (
    Config,
    Environment,
    HistorySettings,
    Host,
    NamedCommand,
    NotifyTarget,
    Project,
    Role,
    SecretRef,
    SSHSettings,
    UISettings,
)

__all__ = [
    "Config",
    "ConfigError",
    "ConfigProblem",
    "Environment",
    "HistorySettings",
    "Host",
    "NamedCommand",
    "NotifyTarget",
    "Project",
    "Role",
    "SSHSettings",
    "SecretRef",
    "UISettings",
    "load_config",
    "load_config_text",
    "locate_config",
    "read_config_file",
    "user_config_path",
]
