"""`{secret: NAME}` values: read from the OS keyring, never from the config file.

Lookup order for a SecretRef (documented in docs/secrets.md):
  0. the team vault's command (top-level `secrets: {command: ...}`), run on this machine
     with `{name}` replaced by the shell-quoted name; its stdout (one trailing newline
     dropped) is the value. A failing command stops the lookup with one line naming the
     secret and the command's own last stderr line: a vault that says "not signed in"
     must not be papered over by a stale keyring copy;
  1. the OS keyring (service "deploytui", username NAME) when a usable backend exists;
  2. the environment variable DEPLOYTUI_SECRET_<NAME> (upper-cased, every character
     that is not a letter or digit becomes "_") — for CI, and for a keyring that
     works but does not hold this secret;
  3. the prompt callback (interactive runs only), asked once per resolver;
  otherwise SecretUnavailable, one line that names the secret and how to set it.

A keyring backend is "usable" unless it is the fail or null backend, or a keyrings.alt
file backend (plaintext or nearly) that the user did not opt into with
DEPLOYTUI_ALLOW_PLAINTEXT_KEYRING=1. When it is not usable, one line says so on stderr,
once per process. Keyring calls can block (an unlock prompt on a desktop): call
`resolve` from a worker thread, never the UI thread. A resolver is thread-safe and
caches every value in memory for its lifetime (one run, or one console session).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable

from deploytui.config.model import Secretish, SecretRef

SERVICE = "deploytui"
ALLOW_PLAINTEXT_ENV = "DEPLOYTUI_ALLOW_PLAINTEXT_KEYRING"
ENV_PREFIX = "DEPLOYTUI_SECRET_"
COMMAND_ENV = "DEPLOYTUI_SECRETS_COMMAND"

Warn = Callable[[str], None]


class SecretUnavailable(Exception):
    """A secret is needed and there is no way to get it; str() is one line, never a value."""

    def __init__(self, name: str, why: str = "") -> None:
        self.name = name
        hint = (f"set it with `deploytui secret set {name}` or the environment variable "
                f"{env_var_name(name)}")
        what = (f"is not available: {why}" if why
                else f"not found (keyring, {env_var_name(name)})")
        super().__init__(f"secret {name!r} {what}; {hint}")


class VaultCommandFailed(SecretUnavailable):
    """The vault command failed for a secret; str() is one line with its stderr line."""

    def __init__(self, name: str, command: str, why: str) -> None:
        self.name = name
        Exception.__init__(self, f"secret {name!r}: vault command `{command}` {why}")


class KeyringUnusable(Exception):
    """No keyring backend deploytui is willing to store secrets in; str() is one line."""


def env_var_name(name: str) -> str:
    """DEPLOYTUI_SECRET_<NAME>: `slack-webhook` -> DEPLOYTUI_SECRET_SLACK_WEBHOOK."""
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def _is_plaintext(backend: object) -> bool:
    return type(backend).__module__.startswith("keyrings.alt")


def _unusable_reason(backend: object) -> str | None:
    module = type(backend).__module__
    label = f"{module}.{type(backend).__name__}"
    if module in ("keyring.backends.fail", "keyring.backends.null"):
        return f"no usable OS keyring ({label})"
    if _is_plaintext(backend) and os.environ.get(ALLOW_PLAINTEXT_ENV) != "1":
        return (f"keyring backend {label} stores secrets in a plain file; refused "
                f"(set {ALLOW_PLAINTEXT_ENV}=1 to allow it)")
    return None


def usable_backend() -> tuple[object | None, str | None]:
    """(backend, None) for a keyring we may use, else (None, one-line reason).

    A ChainerBackend is reduced to its first acceptable member, so a plaintext file
    backend can never answer behind a Secret Service's back.
    """
    import keyring
    from keyring.backends.chainer import ChainerBackend

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken backend configuration
        return None, f"keyring failed to initialise: {_one_line(exc)}"
    if isinstance(backend, ChainerBackend):
        reasons = []
        for member in backend.backends:
            reason = _unusable_reason(member)
            if reason is None:
                return member, None
            reasons.append(reason)
        return None, reasons[0] if reasons else "no usable OS keyring (empty chain)"
    reason = _unusable_reason(backend)
    return (None, reason) if reason else (backend, None)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


_warned: set[str] = set()
_warned_lock = threading.Lock()


def _stderr_once(message: str) -> None:
    with _warned_lock:
        if message in _warned:
            return
        _warned.add(message)
    print(f"deploytui: {message}", file=sys.stderr)


class SecretResolver:
    """Turns Secretish values into strings and remembers every secret it handed out."""

    def __init__(
        self,
        *,
        interactive: bool = False,
        prompt: Callable[[str], str] | None = None,
        warn: Warn | None = None,
        command: str | None = None,
        command_timeout: float = 30.0,
    ) -> None:
        self.interactive = interactive
        self.command = command
        self.command_timeout = command_timeout
        self._from_vault: set[str] = set()  # names whose cached value the vault gave
        self._prompt = prompt
        self._warn = warn or _stderr_once
        self._lock = threading.RLock()
        self._cache: dict[str, str] = {}
        self._known: tuple[str, ...] = ()
        self._backend: object | None = None
        self._backend_checked = False

    def resolve(self, value: Secretish | None) -> str | None:
        """A plain string passes through; a SecretRef is looked up (see module doc)."""
        if value is None or isinstance(value, str):
            return value
        if not isinstance(value, SecretRef):
            raise TypeError(f"not a secret value: {type(value).__name__}")
        with self._lock:
            if value.name not in self._cache:
                self._remember(value.name, self._lookup(value.name))
            return self._cache[value.name]

    def optional(self, name: str) -> str | None:
        """A secret the run can do without: the same sources, never a prompt, None when
        none has it (a failing vault command included)."""
        with self._lock:
            if name in self._cache:
                return self._cache[name]
            try:
                if self.command:
                    value: str | None = self._from_command(name, self.command)
                else:
                    value = (self._from_keyring(name)
                             or os.environ.get(env_var_name(name)) or None)
            except SecretUnavailable:
                return None
            if value:
                self._remember(name, value)
            return value

    def remember(self, value: str) -> None:
        """Treat a value obtained elsewhere (e.g. a typed password) as a secret to redact."""
        with self._lock:
            if value and value not in self._known:
                self._known = (*self._known, value)

    def forget_vault_values(self) -> None:
        """A new operation asks the vault again (a console session outlives a rotation);
        the old values stay known for redaction."""
        with self._lock:
            for name in self._from_vault:
                self._cache.pop(name, None)
            self._from_vault.clear()

    def known_values(self) -> list[str]:
        """Every secret value this resolver returned (for redaction)."""
        return list(self._known)

    def _remember(self, name: str, value: str) -> None:
        self._cache[name] = value
        self.remember(value)

    def _lookup(self, name: str) -> str:
        if self.command:
            found = self._from_command(name, self.command)
            self._from_vault.add(name)
            return found
        value: str | None = self._from_keyring(name)
        if value is None:
            value = os.environ.get(env_var_name(name)) or None
        if value is None and self.interactive and self._prompt is not None:
            try:
                value = self._prompt(name)
            except (EOFError, KeyboardInterrupt) as exc:
                raise SecretUnavailable(name, "prompt cancelled") from exc
        if not value:
            raise SecretUnavailable(name)
        return value

    def _from_command(self, name: str, command: str) -> str:
        """Run the vault CLI for one secret: no terminal, no stdin, its own session."""
        argv = command.replace("{name}", shlex.quote(name))
        try:
            done = subprocess.run(["/bin/sh", "-c", argv], capture_output=True,
                                  stdin=subprocess.DEVNULL, timeout=self.command_timeout,
                                  start_new_session=True)
        except subprocess.TimeoutExpired:
            raise VaultCommandFailed(name, command, f"timed out after "
                                     f"{self.command_timeout:g}s") from None
        except OSError as exc:
            raise VaultCommandFailed(name, command, f"could not run: {_one_line(exc)}"
                                     ) from None
        stderr = done.stderr.decode("utf-8", "replace").strip().splitlines()
        said = f": {' '.join(stderr[-1].split())[:200]}" if stderr else ""
        if done.returncode != 0:
            raise VaultCommandFailed(name, command, f"failed (exit {done.returncode}){said}")
        value = done.stdout.decode("utf-8", "replace")
        value = value[:-1] if value.endswith("\n") else value
        value = value[:-1] if value.endswith("\r") else value
        if not value:
            raise VaultCommandFailed(name, command, f"printed nothing{said}")
        return value

    def _from_keyring(self, name: str) -> str | None:
        if not self._backend_checked:
            self._backend_checked = True
            self._backend, reason = usable_backend()
            if reason:
                self._warn(f"{reason}; secrets come from {ENV_PREFIX}<NAME> or a prompt")
        if self._backend is None:
            return None
        try:
            return self._backend.get_password(SERVICE, name)  # type: ignore[attr-defined]
        except Exception as exc:  # locked collection, bus gone: fall back, say so once
            self._warn(f"keyring lookup failed ({_one_line(exc)}); "
                       f"secrets come from {ENV_PREFIX}<NAME> or a prompt")
            self._backend = None
            return None


def resolver_for(config: object, **options: object) -> SecretResolver:
    """A resolver that knows the config's vault command (`secrets.command`).

    DEPLOYTUI_SECRETS_COMMAND, when set, replaces it (empty: no vault), so a CI job can
    use DEPLOYTUI_SECRET_<NAME> with the team's config unchanged.
    """
    settings = getattr(config, "secrets", None)
    command = getattr(settings, "command", None)
    if COMMAND_ENV in os.environ:
        command = os.environ[COMMAND_ENV] or None
    return SecretResolver(command=command,
                          command_timeout=getattr(settings, "timeout", 30.0),
                          **options)  # type: ignore[arg-type]


def _backend_or_raise() -> object:
    backend, reason = usable_backend()
    if backend is None:
        raise KeyringUnusable(f"{reason}; in CI, set {ENV_PREFIX}<NAME> instead")
    return backend


def store_secret(name: str, value: str) -> None:
    """Save NAME in the OS keyring (raises KeyringUnusable with a one-line reason)."""
    backend = _backend_or_raise()
    try:
        backend.set_password(SERVICE, name, value)  # type: ignore[attr-defined]
    except Exception as exc:
        raise KeyringUnusable(f"could not store secret {name!r}: {_one_line(exc)}") from None


def delete_secret(name: str) -> bool:
    """Remove NAME from the keyring; False when it was not there."""
    from keyring.errors import PasswordDeleteError

    backend = _backend_or_raise()
    try:
        backend.delete_password(SERVICE, name)  # type: ignore[attr-defined]
    except PasswordDeleteError:
        return False
    except Exception as exc:
        raise KeyringUnusable(f"could not delete secret {name!r}: {_one_line(exc)}") from None
    return True
