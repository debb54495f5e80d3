"""`commands:` in a project: each mistake is one line naming file, line and key."""

from __future__ import annotations

import pytest

from deploytui.config import ConfigError, load_config_text

BASE = """\
projects:
  shop:
    repo: git@github.com:acme/shop.git
    deploy_to: /srv/shop
    roles: {web: {}, worker: {}}
    environments:
      prod:
        hosts: {web1: {address: 192.0.2.1, roles: [web]}}
    commands:
"""


def problems(commands: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config_text(BASE + commands, "shop.yml")
    return [str(p) for p in caught.value.problems]


def test_named_commands_are_read_with_their_defaults() -> None:
    config = load_config_text(BASE + "      migrations: {run: ./manage.py showmigrations, "
                                     "on: once}\n      tail: {run: tail log, on: worker, "
                                     "confirm: true}\n      up: {run: uptime}\n", "shop.yml")
    commands = config.projects["shop"].commands
    assert [(c.name, c.run, c.on, c.confirm) for c in commands.values()] == [
        ("migrations", "./manage.py showmigrations", "once", False),
        ("tail", "tail log", "worker", True), ("up", "uptime", "all", False)]


def test_an_unknown_target_names_the_roles_and_guesses_the_typo() -> None:
    assert problems("      flush: {run: ./flush, on: wbe}\n") == [
        "shop.yml:10: projects.shop.commands.flush.on: unknown target 'wbe' (did you mean "
        "'web'? valid: all, once, or a role: web, worker)"]


def test_a_bare_string_a_missing_run_and_an_unknown_key_are_each_one_line() -> None:
    assert problems("      up: uptime\n      nothing: {on: all}\n"
                    "      extra: {run: ls, confirm: true, where: all}\n"
                    "      bad name!: {run: ls}\n      loud: {run: ls, confirm: loudly}\n") == [
        "shop.yml:10: projects.shop.commands.up: expected a mapping such as "
        "{run: uptime, on: all}",
        "shop.yml:11: projects.shop.commands.nothing: missing required key 'run'",
        "shop.yml:12: projects.shop.commands.extra.where: unknown key 'where' (known keys: "
        "run, on, confirm)",
        "shop.yml:13: projects.shop.commands.bad name!: command name 'bad name!' must be "
        "letters, digits, '-', '_' or '.' (not first)",
        "shop.yml:14: projects.shop.commands.loud.confirm: expected true or false, got "
        "'loudly'"]
