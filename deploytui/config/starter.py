"""The starter config `deploytui init` writes: commented, with placeholders `check` names.

Every value the user must choose and deploytui cannot guess (the servers, a repo URL
outside a git repository) is written as a PLACEHOLDER (`CHANGE-ME...`); the loader
refuses it with its line (`placeholder: ...`), so `deploytui check` is the list of what
is left to edit, and no deploy ever goes looking for a server called CHANGE-ME.
"""

from __future__ import annotations

import re

PLACEHOLDER = "CHANGE-ME"
PLACEHOLDER_HOST = f"{PLACEHOLDER}.example"
PLACEHOLDER_REPO = f"git@{PLACEHOLDER_HOST}:you/app.git"
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def is_placeholder(value: str) -> bool:
    return PLACEHOLDER.lower() in value.lower()


def project_name(directory: str) -> str:
    """A valid project name from a directory's name (`My App` -> `My-App`)."""
    return _NAME_CHARS.sub("-", directory).strip("-.") or "app"


TEMPLATE = """\
# deploytui.yml, written by `deploytui init` for @NAME@.
#
# What to edit: every CHANGE-ME below (`deploytui check` lists those left), then
#   deploytui check --connect               reach every host, check what a deploy needs
#   deploytui deploy @NAME@ production      the first deploy
#   deploytui                               the console
# Every key, with its default, is documented in config.example.yml (deploytui's
# repository); `deploytui demo` shows the console on a built-in demo, without servers.
# Secrets never go in this file: write {secret: NAME} and `deploytui secret set NAME`.

ssh:
  known_hosts: ~/.ssh/known_hosts   # host keys are checked against this file
  host_keys: strict                 # strict: an unknown host is refused, its fingerprint
                                    #   shown | accept-new: trust a new host's first key
                                    #   (a CHANGED key is always refused)
  # identity_file: ~/.ssh/id_ed25519   # default: your agent, ~/.ssh/config's IdentityFile

projects:
  @NAME@:
    # the hosts clone this: they need read access (a deploy key, or your forwarded agent)
    repo: @REPO@
    branch: @BRANCH@                 # deployed when no --ref is given
    # strategy: how each host gets a new version
    #   release   clone and build a new releases/<id> on every host; only when EVERY host
    #             is ready does `current` switch, on all of them (rollback: one switch)
    #   artifact  build once on this machine, ship one tarball to every host, then as release
    #   pull      deploy_to is a git working copy, moved to the exact commit (no releases/)
    strategy: release
    deploy_to: /srv/@NAME@           # on every host: releases/, current, shared/ live here
    keep_releases: 5                 # releases kept per host (current and previous always)
    # shared: [.env, media]          # kept across releases in shared/, linked into each
    build: []                        # in the new release on every host, e.g.
                                     #   [pip install -r requirements.txt]
    env:                             # exported to every step, `deploytui run` and `ssh`
      APP_ENV: production
      # SECRET_KEY: {secret: @NAME@-key}   # then: deploytui secret set @NAME@-key
    roles:                           # the order here is the deploy order
      web:
        # once: [python manage.py migrate]  # the role's first host only, before the switch
        restart: []                  # after the switch, e.g. [sudo systemctl restart @NAME@]
        # health: {url: "http://{address}:8000/up"}  # after the restart; unhealthy: undone
    commands:                        # deploytui run @NAME@ production NAME
      uptime: {run: uptime, on: all} # on: all | once | a role; confirm: true asks first
    environments:
      production:
        # confirm: true              # type the environment's name (CLI: --yes) to deploy
        hosts:                       # host name -> where it is (DNS name, IP or ssh_config
                                     #   alias), who logs in, what it runs
          web1: {address: @HOST@, user: deploy, roles: [web]}
"""


def starter_config(name: str, repo: str, branch: str) -> str:
    return (TEMPLATE.replace("@NAME@", name).replace("@REPO@", repo)
            .replace("@BRANCH@", branch).replace("@HOST@", PLACEHOLDER_HOST))
