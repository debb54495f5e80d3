"""A real Secret Service for tests: gnome-keyring-daemon on a private D-Bus session bus.

No desktop is needed: a session bus is started with `dbus-daemon --session --fork`,
and `gnome-keyring-daemon --foreground --unlock --components=secrets` creates (or
unlocks) a login keyring with the password it reads on stdin. Its files live in a
private XDG_DATA_HOME, so the user's own keyring is never touched. Use it from a
test module's session fixture:

    @pytest.fixture(scope="session")
    def secret_service(tmp_path_factory):
        with keyring_session(tmp_path_factory.mktemp("keyring")) as session:
            yield session
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

KEYRING_PASSWORD = "deploytui-tests"
ENV_KEYS = ("DBUS_SESSION_BUS_ADDRESS", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
            "PYTHON_KEYRING_BACKEND")


@dataclass
class KeyringSession:
    address: str
    root: Path
    env: dict[str, str]  # add these to a subprocess's environment to reach the keyring

    def lookup(self, name: str) -> str | None:
        """What `secret-tool` (libsecret, not Python keyring) reads for a deploytui secret."""
        if shutil.which("secret-tool") is None:
            return None
        out = subprocess.run(["secret-tool", "lookup", "service", "deploytui", "username", name],
                             env={**os.environ, **self.env}, capture_output=True, text=True,
                             timeout=10)
        return out.stdout if out.returncode == 0 else None


def available() -> bool:
    return all(shutil.which(p) for p in ("gnome-keyring-daemon", "dbus-daemon"))


def _wait_for_name(env: dict[str, str], name: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
             "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{name}"],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=5)
        if "boolean true" in out.stdout:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not appear on the test session bus")


def reselect_backend() -> None:
    """Make `keyring` look at the environment again (it caches which backends are viable)."""
    import keyring.backend
    import keyring.core

    with contextlib.suppress(KeyError, AttributeError):
        keyring.backend.get_all_keyring.reset()  # type: ignore[attr-defined]
    keyring.core.init_backend()


@contextlib.contextmanager
def keyring_session(root: Path) -> Iterator[KeyringSession]:
    """Start the bus and the keyring, point this process (and `keyring`) at them."""
    if not available():
        pytest.skip("gnome-keyring-daemon / dbus-daemon are not installed")

    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "run").mkdir(mode=0o700, exist_ok=True)
    out = subprocess.run(["dbus-daemon", "--session", "--fork", "--print-address=1",
                          "--print-pid=1"], capture_output=True, text=True, timeout=10,
                         check=True)
    address, bus_pid = out.stdout.split()[:2]
    env = {"DBUS_SESSION_BUS_ADDRESS": address, "XDG_DATA_HOME": str(root / "data"),
           "XDG_RUNTIME_DIR": str(root / "run")}
    daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, **env})
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    try:
        assert daemon.stdin is not None
        daemon.stdin.write(KEYRING_PASSWORD.encode())
        daemon.stdin.close()
        _wait_for_name(env, "org.freedesktop.secrets")
        os.environ.pop("PYTHON_KEYRING_BACKEND", None)
        os.environ.update(env)
        reselect_backend()  # choose again, now that a Secret Service exists
        yield KeyringSession(address, root, env)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        daemon.terminate()
        try:
            daemon.wait(5)
        except subprocess.TimeoutExpired:
            daemon.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(bus_pid), signal.SIGTERM)
        reselect_backend()
