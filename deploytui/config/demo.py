"""The built-in demo's config: `deploytui demo` needs no file and no server.

Its hosts are directories on this machine (transport: local), each with its own
deploy_to; its app is the bundled sample app (`repo: builtin:demo`). It is the `demo`
project of config.example.yml, kept in the package so that a pip-installed deploytui
has it.
"""

from __future__ import annotations

from deploytui.config.model import Config

NAME = "<built-in demo>"

DEMO_YAML = """\
projects:
  demo:
    repo: builtin:demo
    branch: main
    strategy: release
    deploy_to: /tmp/deploytui-demo/app
    keep_releases: 3
    build: [sh build.sh]
    timeout: 60
    min_free_mb: 10
    env:
      APP_ENV: demo
    roles:
      web:
        once: [echo "migrating the demo database (nothing to do)"]
        restart: [sh restart.sh]
        health:
          command: "test -f app.py && echo serving $(cat VERSION)"
          timeout: 10
      worker:
        restart: [sh restart.sh]
    commands:
      version: {run: "echo serving $(cat VERSION) from $PWD", on: all}
      where: {run: "echo $DEPLOYTUI_HOST in $DEPLOYTUI_ENV", on: once}
    environments:
      staging:
        hosts:
          local1: {transport: local, deploy_to: /tmp/deploytui-demo/staging/local1,
                   roles: [web, worker]}
          local2: {transport: local, deploy_to: /tmp/deploytui-demo/staging/local2,
                   roles: [worker]}
      production:
        confirm: true
        hosts:
          local1: {transport: local, deploy_to: /tmp/deploytui-demo/production/local1,
                   roles: [web]}
          local2: {transport: local, deploy_to: /tmp/deploytui-demo/production/local2,
                   roles: [web]}
          local3: {transport: local, deploy_to: /tmp/deploytui-demo/production/local3,
                   roles: [worker]}
"""


def demo_config() -> Config:
    from deploytui.config.loader import load_config_text

    return load_config_text(DEMO_YAML, NAME)
