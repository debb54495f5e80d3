"""The layer rule (DESIGN.md): arrows point down, the engine never imports Textual, and
the type checker holds on deploytui/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_in_pyproject_are_kept():
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is part of the [test] extra"
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_the_headless_engine_runs_without_textual_loaded():
    code = ("import sys, deploytui.engine.operations.deploy, "
            "deploytui.engine.operations.releases, deploytui.engine.operations.rollback, "
            "deploytui.engine.operations.prune, deploytui.history, deploytui.notify; "
            "print('textual' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_type_checker_finds_no_error_in_deploytui(tmp_path: Path):
    """mypy as configured in pyproject.toml ([tool.mypy]: every module of deploytui/)."""
    result = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=55)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Success: no issues found" in result.stdout
