"""The README's "deploytui as a library" example, run as written, on local hosts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### From Python: deploytui as a library", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "the README's library section has a python example"
    return found.group(1)


def test_the_readme_library_example_deploys_and_lists_the_release(tmp_path: Path):
    (tmp_path / "deploytui.yml").write_text(f"""\
projects:
  demo:
    repo: builtin:demo
    deploy_to: {tmp_path}/srv/demo
    build: [sh build.sh]
    environments:
      staging:
        hosts:
          web1: {{transport: local, deploy_to: {tmp_path}/srv/web1}}
          web2: {{transport: local, deploy_to: {tmp_path}/srv/web2}}
""")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
           "DEPLOYTUI_DATA_DIR": str(tmp_path / "data"),
           "DEPLOYTUI_CONFIG_DIR": str(tmp_path / "config")}
    result = subprocess.run([sys.executable, "-c", readme_example()], cwd=tmp_path,
                            capture_output=True, text=True, env=env, timeout=55)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    outcome, release = lines[-2].split()
    assert outcome == "success" and re.fullmatch(r"\d{14}", release)
    assert lines[-1] == str([release])  # the listing shows the release just deployed
    assert any(line.startswith("[web1] ") for line in lines)  # the host's own output
    assert (tmp_path / "srv/web2/current").resolve().name == release
