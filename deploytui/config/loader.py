"""Load a config file into the typed model, reporting every problem with its line.

`load_config` is what the CLI and the console call; `load_config_text` is the same
for a string (tests, the console's config editor). Bad input never raises anything
but ConfigError, whose problems are all of the file's, sorted by line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from deploytui.config.errors import ConfigError, ConfigProblem
from deploytui.config.fields import Invalid, Reader, describe
from deploytui.config.locate import locate_config
from deploytui.config.model import (
    NOTIFY_EVENTS,
    Config,
    HistorySettings,
    HostKeyPolicy,
    NotifyTarget,
    SecretRef,
    SecretsSettings,
    SSHSettings,
    UISettings,
)
from deploytui.config.projects import read_projects
from deploytui.config.yamlnodes import Node, join, parse_yaml
from deploytui.gc_pause import gc_paused

TOP_KEYS = ("ssh", "projects", "notify", "history", "ui", "requires", "secrets")
SSH_KEYS = ("config", "known_hosts", "host_keys", "identity_file", "passphrase", "key",
            "forward_agent", "connect_timeout", "max_parallel")
NOTIFY_KEYS = ("url", "command", "format", "on", "timeout")
NOTIFY_FORMATS = ("slack", "teams", "discord", "json")
SECRETS_KEYS = ("command", "timeout")
HISTORY_KEYS = ("keep_days", "keep_deploys")
UI_KEYS = ("theme", "keys", "log_lines")
DEFAULT_SSH_CONFIG = "~/.ssh/config"


def load_config(path: Path | None = None) -> Config:
    """The config at `path`, or at the first place `locate_config` finds one."""
    located = locate_config(path)
    text = read_config_file(located)
    return load_config_text(text, str(located), path=located.absolute())


def read_config_file(path: Path) -> str:
    """The file's text, or one ConfigError line naming the file and why it is unreadable."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise ConfigError.single("cannot read: it is a directory", file=str(path)) from None
    except PermissionError:
        raise ConfigError.single("cannot read: permission denied", file=str(path)) from None
    except FileNotFoundError:
        raise ConfigError.single("cannot read: no such file", file=str(path)) from None
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ConfigError.single(f"cannot read: {reason}", file=str(path)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problem = ConfigProblem(str(path), line, "",
                                f"not UTF-8 text (byte 0x{data[exc.start]:02x})")
        raise ConfigError([problem]) from None


def load_config_text(text: str, filename: str = "<config>", path: Path | None = None) -> Config:
    """Parse and validate config text; `filename` is what problem lines start with.

    Garbage collection waits meanwhile: the tree and model of a big config are only
    long-lived objects, and collections scanning them cost a third of the load."""
    with gc_paused():
        return _load(text, filename, path)


def _load(text: str, filename: str, path: Path | None) -> Config:
    root, problems = parse_yaml(text, filename)
    if root is None and problems:
        raise ConfigError(problems)
    if root is None or root.is_null:
        raise ConfigError([ConfigProblem(filename, 1, "", "the file is empty; it needs at least "
                                                          "'projects:' (see config.example.yml)")])
    reader = Reader(filename)
    reader.problems.extend(problems)
    if root.kind != "map":
        reader.error(root.line, "", "the file must be a mapping (key: value lines) with "
                                    f"'projects:' at the top, got {describe(root)}")
        raise ConfigError(_tidy(reader.problems))
    try:
        config = _config(reader, root, path)
    except Invalid:
        config = None
    if reader.problems or config is None:
        raise ConfigError(_tidy(reader.problems))
    return config


def _tidy(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """In file order, each once (an alias or a merge can reach one mistake twice)."""
    unique = {(p.line, p.column, p.message): p for p in reversed(problems)}
    return sorted(reversed(unique.values()), key=lambda p: (p.line or 0, p.column or 0))


def _config(reader: Reader, root: Node, path: Path | None) -> Config:
    entries = reader.mapping(root, "", TOP_KEYS, required=("projects",))
    if "requires" in entries:  # first: an older deploytui may misread the rest
        from deploytui import __version__
        from deploytui.config.freeze import check_requires

        try:
            check_requires(entries["requires"], reader, __version__)
        except Invalid:
            raise Invalid("requires") from None
    projects = read_projects(reader, entries["projects"]) if "projects" in entries else {}
    values: dict[str, Any] = {}
    for key, read in (("ssh", _ssh), ("notify", _notify), ("history", _history), ("ui", _ui),
                      ("secrets", _secrets)):
        if key in entries:
            try:
                values[key] = read(reader, entries[key])
            except Invalid:
                continue
    values.setdefault("ssh", _ssh(reader, Node("map", {}, root.line)))
    warnings = tuple(str(warning) for warning in _tidy(reader.warnings))
    return Config(path=path, projects=projects, warnings=warnings, **values)


def _ssh(reader: Reader, node: Node) -> SSHSettings:
    entries = reader.mapping(node, "ssh", SSH_KEYS)
    values: dict[str, Any] = {}
    reader.put(values, entries, "ssh", "config", reader.local_path, nullable=True)
    reader.put(values, entries, "ssh", "known_hosts", reader.local_path)
    reader.put(values, entries, "ssh", "host_keys", reader.choice,
               choices=get_args(HostKeyPolicy), what="host key policy")
    reader.put(values, entries, "ssh", "identity_file", reader.local_path, nullable=True)
    reader.put(values, entries, "ssh", "passphrase", reader.secret, nullable=True)
    reader.put(values, entries, "ssh", "key", _key_secret, nullable=True, reader=reader)
    reader.put(values, entries, "ssh", "forward_agent", reader.boolean, nullable=True)
    if values.get("key") is not None and values.get("identity_file") is not None:
        reader.error(entries["key"].line, "ssh.key",
                     "set identity_file or key, not both (key is the key's text, for CI)")
    reader.put(values, entries, "ssh", "connect_timeout", reader.seconds)
    reader.put(values, entries, "ssh", "max_parallel", reader.integer, minimum=1)
    if "config" not in entries:  # explicit `config: null` means: do not read one
        default = Path(DEFAULT_SSH_CONFIG).expanduser()
        values["config"] = default if default.is_file() else None
    return SSHSettings(**values)


def _key_secret(node: Node, path: str, reader: Reader) -> SecretRef:
    """ssh.key: only ever a reference; a private key's text never sits in this file."""
    value = reader.secret(node, path, warn_clear=False)
    if isinstance(value, str):
        raise reader.error(node.line, path, "the private key's text must come from a"
                                            " secret: {secret: NAME}")
    return value


def _notify(reader: Reader, node: Node) -> tuple[NotifyTarget, ...]:
    if node.is_null:
        return ()
    if node.kind != "list":
        hint = " (start each entry with '- ')" if node.kind == "map" else ""
        raise reader.wrong(node, "notify", "a list of notification targets", hint)
    targets = []
    for index, item in enumerate(node.value):
        path = f"notify[{index}]"
        try:
            entries = reader.mapping(item, path, NOTIFY_KEYS,
                                     what="a mapping with url (or command), format, on, "
                                          "timeout")
        except Invalid:
            continue
        if ("url" in entries) == ("command" in entries):
            reader.error(item.line, path, "needs either url (a webhook) or command (a local "
                                          "command given the message on stdin), not "
                                          f"{'both' if 'url' in entries else 'neither'}")
            continue
        values: dict[str, Any] = {}
        reader.put(values, entries, path, "url", _webhook_url, reader=reader)
        reader.put(values, entries, path, "command", reader.string)
        reader.put(values, entries, path, "format", reader.choice, choices=NOTIFY_FORMATS,
                   what="format")
        reader.put(values, entries, path, "on", _events, reader=reader)
        reader.put(values, entries, path, "timeout", reader.seconds)
        if "url" in values or "command" in values:
            targets.append(NotifyTarget(**values))
    return tuple(targets)


def _webhook_url(node: Node, path: str, reader: Reader) -> str | SecretRef:
    """A webhook URL is a credential (anyone holding it can post): prefer a secret."""
    value = reader.secret(node, path, warn_clear=False)
    if isinstance(value, SecretRef):
        return value
    if not value.startswith(("https://", "http://")):
        raise reader.error(node.line, path, f"expected an http(s):// URL, got '{value}'")
    reader.secret(node, path)  # the clear-text warning, once the value is known to be a URL
    return value


def _events(node: Node, path: str, reader: Reader) -> tuple[str, ...]:
    events = []
    for event, item in reader.string_items(node, path):
        if event not in NOTIFY_EVENTS:
            raise reader.error(item.line, path, f"unknown event '{event}' "
                                                f"(valid: {', '.join(NOTIFY_EVENTS)})")
        events.append(event)
    return tuple(dict.fromkeys(events))


def _secrets(reader: Reader, node: Node) -> SecretsSettings:
    """`secrets: {command: "op read op://deploy/{name}"}`: the vault comes first."""
    entries = reader.mapping(node, "secrets", SECRETS_KEYS)
    values: dict[str, Any] = {}
    reader.put(values, entries, "secrets", "command", reader.string, nullable=True)
    reader.put(values, entries, "secrets", "timeout", reader.seconds)
    command = values.get("command")
    if command is not None and "{name}" not in command:
        raise reader.error(entries["command"].line, "secrets.command",
                           "must contain {name} (replaced by the secret's name, quoted)")
    return SecretsSettings(**values)


def _history(reader: Reader, node: Node) -> HistorySettings:
    entries = reader.mapping(node, "history", HISTORY_KEYS)
    values: dict[str, Any] = {}
    reader.put(values, entries, "history", "keep_days", reader.integer, minimum=1)
    reader.put(values, entries, "history", "keep_deploys", reader.integer, minimum=1)
    return HistorySettings(**values)


def _ui(reader: Reader, node: Node) -> UISettings:
    entries = reader.mapping(node, "ui", UI_KEYS)
    values: dict[str, Any] = {}
    reader.put(values, entries, "ui", "theme", reader.string, nullable=True)
    reader.put(values, entries, "ui", "log_lines", reader.integer, minimum=1)
    if "keys" in entries:
        keys_node = entries["keys"]
        try:
            bindings = reader.mapping(keys_node, "ui.keys",
                                      what="a mapping of binding ids to keys")
        except Invalid:
            bindings = {}
        keys: dict[str, str] = {}
        for binding, key_node in bindings.items():
            try:
                keys[binding] = reader.string(key_node, join("ui.keys", binding))
            except Invalid:
                continue
        values["keys"] = keys
    return UISettings(**values)
