"""What the console's start-up relies on (issue 28): no SSH stack before the first frame,
and garbage collection paused only while start-up builds, never left off.

Timings live in benchmarks/startup.py; these check the structure that makes them.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_tui_support import local_config

from deploytui.config import load_config_text, yamlnodes
from deploytui.config.errors import ConfigError
from deploytui.gc_pause import GCPause
from deploytui.tui.app import DeployConsole

ROOT = Path(__file__).resolve().parent.parent
SSH_STACK = ("paramiko", "fabric", "invoke", "cryptography", "nacl", "bcrypt", "keyring")


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYTUI_CONFIG_DIR", str(tmp_path / "config"))


def _modules_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after running `code`."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=30).stdout
    return {name.split(".")[0] for name in json.loads(out.splitlines()[-1])}


def test_importing_the_console_and_the_config_loader_imports_no_ssh_library():
    loaded = _modules_after("import deploytui.tui.app, deploytui.config, deploytui.cli")
    assert "textual" in loaded  # the probe did import the console
    assert not loaded & set(SSH_STACK)


def test_loading_a_config_leaves_garbage_collection_as_it_found_it(tmp_path):
    text = ("projects:\n  demo:\n    repo: builtin:demo\n    deploy_to: /srv/demo\n"
            "    environments:\n      staging:\n        hosts:\n"
            "          web1: {address: 127.0.0.1}\n")
    assert gc.isenabled()
    load_config_text(text)
    assert gc.isenabled()
    with pytest.raises(ConfigError):
        load_config_text("projects: [")
    assert gc.isenabled()
    gc.disable()
    try:
        load_config_text(text)
        assert not gc.isenabled()  # a caller's own pause is not ended for it
    finally:
        gc.enable()


async def test_garbage_collection_runs_again_once_the_console_has_painted(tmp_path):
    app = DeployConsole(local_config(tmp_path), load_status=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert gc.isenabled()
    assert gc.isenabled()


def test_a_pause_ends_only_what_it_began_and_ending_twice_is_harmless():
    pause = GCPause()
    pause.begin()
    assert not gc.isenabled()
    pause.end()
    pause.end()  # the console ends it after its first frame and again when it closes
    assert gc.isenabled()
    gc.disable()
    try:
        other = GCPause()
        other.begin()
        other.end()
        assert not gc.isenabled()  # someone else's pause: not ours to end
    finally:
        gc.enable()


def test_the_fast_yaml_path_reads_every_kind_of_value_as_the_pure_python_parser(monkeypatch):
    text = ("defaults: &d {user: deploy, port: 2222}\n"
            "values: [plain, 'single', \"double\", !!str 10, 1.10, 0o17, yes, on, ~, null,\n"
            "         2024-01-02, '', \"\\u00e9t\\u00e9\", 12:30:00, -7, .inf]\n"
            "host: {<<: *d, address: 10.0.0.1, on: true}\n"
            "block: |\n  two\n  lines\n")
    fast, fast_problems = yamlnodes.parse_yaml(text, "f.yml")
    assert yamlnodes._C_LOADER is not None  # PyYAML built with libyaml, as installed
    monkeypatch.setattr(yamlnodes, "_C_LOADER", None)
    slow, slow_problems = yamlnodes.parse_yaml(text, "f.yml")
    assert fast == slow and fast_problems == slow_problems == []


def test_the_cli_imports_the_console_with_collection_paused_and_leaves_it_on():
    from deploytui.cli import console_module

    assert console_module().DeployConsole is DeployConsole
    assert gc.isenabled()
