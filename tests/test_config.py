"""The config loader's contract: what a good file becomes, and the one line each mistake gives.

Every problem line is `FILE:LINE: key.path: what is wrong` (YAML syntax errors add the
column); every problem of a file is reported in one run; bad input never raises
anything but ConfigError. The YAML in each test is written out in full so the line
numbers in the expected messages can be counted by eye.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest

from deploytui.config import (
    Config,
    ConfigError,
    ConfigProblem,
    SecretRef,
    load_config,
    load_config_text,
    locate_config,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yml"
FILE = "deploytui.yml"


def load(text: str) -> Config:
    return load_config_text(dedent(text), FILE)


def problems(text: str) -> list[str]:
    """The problem lines for `text`, which must not load."""
    with pytest.raises(ConfigError) as caught:
        load(text)
    lines = [str(problem) for problem in caught.value.problems]
    assert str(caught.value) == "\n".join(lines)
    return lines


MINIMAL = """\
projects:
  shop:
    repo: git@github.com:acme/shop.git
    deploy_to: /var/www/shop
    roles:
      web: {restart: [sudo service uwsgi restart]}
    environments:
      production:
        hosts:
          web1: {roles: [web]}
"""


def shop_with(line: str) -> str:
    """MINIMAL with `line` added to project shop as line 5 (after deploy_to)."""
    anchor = "    deploy_to: /var/www/shop\n"
    return MINIMAL.replace(anchor, f"{anchor}    {line}\n")


# -- what a good file becomes ------------------------------------------------------------


def test_the_example_config_loads_without_warnings() -> None:
    config = load_config(EXAMPLE)
    assert config.warnings == ()
    assert config.path == EXAMPLE
    assert list(config.projects) == ["demo", "shop", "storefront", "wiki"]
    demo = config.projects["demo"]
    assert (demo.repo, demo.strategy) == ("builtin:demo", "release")
    every_demo_host = [h for env in demo.environments.values() for h in env.hosts]
    assert {h.transport for h in every_demo_host} == {"local"}
    deploy_tos = [demo.host_deploy_to(h) for h in every_demo_host]
    assert len(set(deploy_tos)) == len(deploy_tos), "two local demo hosts share a directory"
    assert demo.environments["production"].confirm is True
    assert len(demo.environments["production"].hosts) == 3
    shop = config.projects["shop"]
    assert list(shop.roles) == ["media", "web", "celery"]
    assert shop.roles["web"].once == ("python manage.py migrate",)
    assert shop.sudo_password == SecretRef("shop-sudo")
    assert shop.shared == ("media", ".env")
    assert config.projects["storefront"].strategy == "artifact"
    assert config.projects["wiki"].strategy == "pull"
    assert config.notify == (), "the demo must run without a webhook secret"
    example_notify = EXAMPLE.read_text().split("# notify:", 1)[1]
    assert "url: {secret: slack-webhook}" in example_notify  # documented, commented out


def test_a_minimal_config_gets_the_model_defaults() -> None:
    project = load(MINIMAL).projects["shop"]
    assert (project.branch, project.strategy, project.keep_releases) == ("main", "release", 5)
    host = project.environments["production"].hosts[0]
    assert host.address == "web1", "no address: the host name is used as an ssh alias"
    assert (host.port, host.user, host.transport, host.deploy_to) == (None, None, "ssh", None)
    assert project.environments["production"].confirm is False


def test_roles_keep_their_configured_order_and_may_be_empty() -> None:
    config = load("""\
        projects:
          shop:
            repo: /srv/git/shop.git
            deploy_to: /var/www/shop
            roles:
              media:
              web: {}
              celery: {restart: [x], parallel: false, batch: 2}
            environments:
              training:
                hosts:
                  train1: {address: 192.0.2.1, roles: [celery, web, media]}
        """)
    project = config.projects["shop"]
    assert list(project.roles) == ["media", "web", "celery"]
    assert project.roles["media"].restart == ()
    assert (project.roles["celery"].parallel, project.roles["celery"].batch) == (False, 2)
    host = project.environments["training"].hosts[0]
    assert [role.name for role in project.roles_of(host)] == ["media", "web", "celery"]


def test_tilde_is_expanded_in_local_paths_and_ssh_config_may_be_switched_off(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = load("""\
        ssh:
          config: null
          known_hosts: ~/kh
          identity_file: ~/.ssh/id_ed25519
        projects:
          shop:
            repo: ~/src/shop
            deploy_to: /var/www/shop
            environments: {production: {hosts: {web1: }}}
        """)
    assert config.ssh.config is None
    assert config.ssh.known_hosts == tmp_path / "kh"
    assert config.ssh.identity_file == tmp_path / ".ssh/id_ed25519"
    assert config.projects["shop"].repo == str(tmp_path / "src/shop")


def test_ssh_config_defaults_to_the_users_file_only_when_it_exists(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load(MINIMAL).ssh.config is None
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh/config").write_text("Host *\n")
    assert load(MINIMAL).ssh.config == tmp_path / ".ssh/config"


def test_merge_keys_share_settings_between_hosts() -> None:
    config = load("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
            roles: {web: {}}
            environments:
              production:
                hosts:
                  web1: &web {user: deploy, port: 2222, roles: [web]}
                  web2: {<<: *web, port: 22}
        """)
    web2 = config.projects["shop"].environments["production"].hosts[1]
    assert (web2.user, web2.port, web2.roles) == ("deploy", 22, ("web",))


def test_the_top_level_sections_are_read() -> None:
    config = load(MINIMAL + dedent("""\
        history: {keep_days: 30, keep_deploys: 50}
        ui: {theme: deploytui-light, keys: {deploy: D}, log_lines: 200}
        notify:
          - url: https://hooks.example.com/x
            on: [failure]
        """))
    assert (config.history.keep_days, config.history.keep_deploys) == (30, 50)
    assert (config.ui.theme, config.ui.keys, config.ui.log_lines) == (
        "deploytui-light", {"deploy": "D"}, 200)
    assert config.notify[0].on == ("failure",)
    assert config.notify[0].format == "json"


def test_repo_may_be_a_url_an_absolute_path_or_the_builtin_demo() -> None:
    for repo in ("git@github.com:acme/shop.git", "https://github.com/acme/shop.git",
                 "ssh://git@example.com:2222/shop.git", "github-work:acme/shop.git",
                 "/srv/git/shop.git", "builtin:demo"):
        text = MINIMAL.replace("git@github.com:acme/shop.git", repo)
        assert load(text).projects["shop"].repo == repo


# -- the shape of a problem line ---------------------------------------------------------


def test_a_problem_line_names_file_line_key_and_what() -> None:
    assert str(ConfigProblem("a.yml", 3, "projects.x", "bad")) == "a.yml:3: projects.x: bad"
    assert str(ConfigProblem("a.yml", 3, "", "bad", column=7)) == "a.yml:3:7: bad"
    assert str(ConfigProblem("a.yml", None, "", "unreadable")) == "a.yml: unreadable"


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    assert problems("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
            keep_releases: 0
            stratgy: release
            environments:
              production:
                hosts:
                  web1: {port: 0}
        """) == [
        "deploytui.yml:5: projects.shop.keep_releases: must be at least 1, got 0",
        "deploytui.yml:6: projects.shop.stratgy: unknown key 'stratgy' "
        "(did you mean 'strategy'?)",
        "deploytui.yml:10: projects.shop.environments.production.hosts.web1.port: "
        "must be between 1 and 65535, got 0",
    ]


# -- one test per mistake ----------------------------------------------------------------


def test_yaml_syntax_error_gives_line_and_column() -> None:
    assert problems("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop: no
        """) == ["deploytui.yml:4:29: YAML syntax error: mapping values are not allowed here"]


def test_a_tab_in_the_indentation_is_explained() -> None:
    [line] = problems("projects:\n\tshop: {}\n")
    assert line.startswith("deploytui.yml:2:1: YAML syntax error: found character '\\t'")
    assert line.endswith("YAML indents with spaces, not tabs")


def test_empty_file() -> None:
    expected = ["deploytui.yml:1: the file is empty; it needs at least 'projects:' "
                "(see config.example.yml)"]
    assert problems("") == expected
    assert problems("# only a comment\n") == expected


def test_a_file_that_is_not_a_mapping() -> None:
    assert problems("- shop\n- blog\n") == [
        "deploytui.yml:1: the file must be a mapping (key: value lines) with 'projects:' "
        "at the top, got a list"]


def test_unknown_key_suggests_the_closest_known_one() -> None:
    assert problems("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
            stratgy: release
            environments: {production: {hosts: {web1: }}}
        """) == ["deploytui.yml:5: projects.shop.stratgy: unknown key 'stratgy' "
                 "(did you mean 'strategy'?)"]


def test_unknown_key_at_any_level_without_a_close_match_lists_the_known_keys() -> None:
    assert problems("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
            environments:
              production:
                hosts:
                  web1: {adress: 192.0.2.1, colour: red}
        projekts: {}
        """) == [
        "deploytui.yml:8: projects.shop.environments.production.hosts.web1.adress: "
        "unknown key 'adress' (did you mean 'address'?)",
        "deploytui.yml:8: projects.shop.environments.production.hosts.web1.colour: "
        "unknown key 'colour' (known keys: address, port, user, roles, transport, deploy_to,"
        " relay_address)",
        "deploytui.yml:9: projekts: unknown key 'projekts' (did you mean 'projects'?)",
    ]


def test_wrong_type_keep_releases_is_not_a_number() -> None:
    assert problems(shop_with("keep_releases: five")) == [
        "deploytui.yml:5: projects.shop.keep_releases: expected a whole number, got 'five'"]


def test_wrong_type_shared_is_one_string_instead_of_a_list() -> None:
    assert problems("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
            shared: media
            environments: {production: {hosts: {web1: }}}
        """) == ["deploytui.yml:5: projects.shop.shared: expected a list of strings, "
                 "got 'media' (write [media])"]


def test_wrong_type_hosts_is_a_list_instead_of_a_mapping() -> None:
    assert problems("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
            environments:
              production:
                hosts:
                  - web1
                  - web2
        """) == ["deploytui.yml:7: projects.shop.environments.production.hosts: "
                 "expected a mapping of host names to their settings, got a list"]


def test_missing_required_fields_repo_deploy_to_and_hosts() -> None:
    assert problems("""\
        projects:
          shop:
            branch: main
            environments:
              production:
                confirm: true
        """) == [
        "deploytui.yml:2: projects.shop: missing required key 'repo'",
        "deploytui.yml:2: projects.shop: missing required key 'deploy_to'",
        "deploytui.yml:5: projects.shop.environments.production: missing required key 'hosts'",
    ]


def test_a_project_without_environments() -> None:
    assert problems("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
        """) == ["deploytui.yml:2: projects.shop: missing required key 'environments'"]
    assert problems("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
            environments: {}
        """) == ["deploytui.yml:5: projects.shop.environments: the project has no environments"]


def test_a_host_naming_an_undefined_role() -> None:
    assert problems("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
            roles:
              web: {restart: [sudo service uwsgi restart]}
              celery: {}
            environments:
              production:
                hosts:
                  web1: {roles: [wbe]}
        """) == ["deploytui.yml:11: projects.shop.environments.production.hosts.web1.roles: "
                 "role 'wbe' is not defined in projects.shop.roles (did you mean 'web'?)"]


def test_a_duplicate_host_name_in_an_environment() -> None:
    assert problems("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
            environments:
              production:
                hosts:
                  web1: {address: 192.0.2.1}
                  web2: {address: 192.0.2.2}
                  web1: {address: 192.0.2.3}
        """) == ["deploytui.yml:10: projects.shop.environments.production.hosts.web1: "
                 "duplicate key 'web1' (first on line 8); YAML would silently keep only "
                 "the last one"]


def test_a_duplicate_key_anywhere_is_an_error() -> None:
    assert problems("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            repo: git@github.com:acme/other.git
            deploy_to: /var/www/shop
            environments: {production: {hosts: {web1: }}}
        """) == ["deploytui.yml:4: projects.shop.repo: duplicate key 'repo' (first on line 3); "
                 "YAML would silently keep only the last one"]


def test_an_unknown_strategy_lists_the_valid_ones() -> None:
    assert problems(shop_with("strategy: rsync")) == [
        "deploytui.yml:5: projects.shop.strategy: unknown strategy 'rsync' "
        "(valid: release, artifact, pull)"]


def test_an_unknown_ship_mode_lists_the_valid_ones() -> None:
    assert problems(shop_with("ship: rsync")) == [
        "deploytui.yml:5: projects.shop.ship: unknown ship 'rsync' (valid: relay, direct)"]


def test_ship_defaults_to_relay_and_a_host_may_name_its_relay_address() -> None:
    config = load_config_text(MINIMAL.replace(
        "{roles: [web]}", "{roles: [web], relay_address: 10.1.0.7}"), "deploytui.yml")
    project = config.projects["shop"]
    assert project.ship == "relay" and project.relay_port == 0
    assert project.environments["production"].hosts[0].relay_address == "10.1.0.7"


def test_keep_releases_below_one() -> None:
    assert problems(shop_with("keep_releases: 0")) == [
        "deploytui.yml:5: projects.shop.keep_releases: must be at least 1, got 0"]


def test_a_port_outside_1_to_65535() -> None:
    assert problems(MINIMAL.replace("{roles: [web]}", "{roles: [web], port: 65536}")) == [
        "deploytui.yml:10: projects.shop.environments.production.hosts.web1.port: "
        "must be between 1 and 65535, got 65536"]


def test_a_relative_deploy_to_in_the_project_and_in_a_host() -> None:
    assert problems("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: var/www/shop
            environments:
              production:
                hosts:
                  web1: {deploy_to: ~/shop}
        """) == [
        "deploytui.yml:4: projects.shop.deploy_to: must be an absolute path (starting with /), "
        "got 'var/www/shop'",
        "deploytui.yml:8: projects.shop.environments.production.hosts.web1.deploy_to: "
        "must be an absolute path (starting with /), got '~/shop' (~ is not expanded on the "
        "hosts)",
    ]


def test_two_hosts_deploying_to_the_same_directory_of_one_machine() -> None:
    assert problems("""\
        projects:
          demo:
            repo: builtin:demo
            deploy_to: /tmp/deploytui-demo/app
            environments:
              staging:
                hosts:
                  local1: {transport: local}
                  local2: {transport: local}
                  local3: {transport: local, deploy_to: /tmp/deploytui-demo/local3}
        """) == ["deploytui.yml:9: projects.demo.environments.staging.hosts.local2: deploys to "
                 "the same directory on the same machine as host 'local1'; give one of them its "
                 "own deploy_to"]


def test_an_environment_with_no_hosts() -> None:
    assert problems("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
            environments:
              production:
                hosts: {}
        """) == ["deploytui.yml:7: projects.shop.environments.production.hosts: "
                 "the environment has no hosts"]


def test_an_unreadable_file_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert str(caught.value) == f"{tmp_path}: cannot read: it is a directory"


def test_a_file_without_read_permission_is_one_line_naming_it(tmp_path: Path) -> None:
    """Root reads anything, so as root the check runs without the override capabilities."""
    path = tmp_path / "deploytui.yml"
    path.write_text(MINIMAL)
    path.chmod(0)
    command = [sys.executable, "-c", "from pathlib import Path; from deploytui.config import "
               f"load_config; load_config(Path({str(path)!r}))"]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot take the permission away")
        command = [setpriv, "--inh-caps=-all", "--bounding-set=-all", *command]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=30,
                            check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f"deploytui.config.errors.ConfigError: {path}: cannot read: permission denied")


def test_host_keys_is_strict_or_accept_new() -> None:
    assert problems("ssh:\n  host_keys: yes\n" + MINIMAL) == [
        "deploytui.yml:2: ssh.host_keys: unknown host key policy 'yes' "
        "(valid: strict, accept-new)"]


def test_max_parallel_below_one() -> None:
    assert problems("ssh:\n  max_parallel: 0\n" + MINIMAL) == [
        "deploytui.yml:2: ssh.max_parallel: must be at least 1, got 0"]


def test_timeouts_must_be_greater_than_zero() -> None:
    assert problems("ssh:\n  connect_timeout: 0\n" + shop_with("timeout: -5")
                    + "notify:\n  - {url: {secret: hook}, timeout: 0.0}\n") == [
        "deploytui.yml:2: ssh.connect_timeout: must be greater than 0, got 0",
        "deploytui.yml:7: projects.shop.timeout: must be greater than 0, got -5",
        "deploytui.yml:15: notify[0].timeout: must be greater than 0, got 0.0",
    ]


def test_a_bool_field_given_a_string() -> None:
    assert problems("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
            roles: {web: {parallel: sometimes}}
            environments:
              production:
                confirm: "true"
                hosts: {web1: }
        """) == [
        "deploytui.yml:5: projects.shop.roles.web.parallel: expected true or false, "
        "got 'sometimes'",
        "deploytui.yml:8: projects.shop.environments.production.confirm: expected true or "
        "false, got 'true' (remove the quotes)",
    ]


def test_hostile_yaml_is_one_line_not_a_crash_or_a_hang() -> None:
    assert problems("projects: " + "[" * 500 + "]" * 500) == [
        "deploytui.yml:1: YAML nested too deeply to read"]
    # "billion laughs": 9**9 strings if every alias were expanded again
    bomb = "x: &a [l, l, l, l, l, l, l, l, l]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
        for i in range(8))
    assert problems(bomb + "projects: {}\n")[0] == (
        "deploytui.yml:1: x: unknown key 'x' (known keys: ssh, projects, notify, history, ui,"
        " requires, secrets)")


# -- secrets -----------------------------------------------------------------------------


def test_secret_references_become_secret_refs() -> None:
    config = load("""\
        ssh:
          passphrase: {secret: ssh-key}
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
            sudo_password: {secret: shop-sudo}
            env:
              DJANGO_SECRET_KEY: {secret: shop.django_key}
              DEBUG: false
            environments: {production: {hosts: {web1: }}}
        notify:
          - url: {secret: slack-webhook}
        """)
    shop = config.projects["shop"]
    assert config.ssh.passphrase == SecretRef("ssh-key")
    assert shop.sudo_password == SecretRef("shop-sudo")
    assert shop.env == {"DJANGO_SECRET_KEY": SecretRef("shop.django_key"), "DEBUG": "false"}
    assert config.notify[0].url == SecretRef("slack-webhook")
    assert config.warnings == ()


def test_a_secret_written_in_clear_is_accepted_with_a_warning() -> None:
    config = load("""\
        projects:
          shop:
            repo: git@github.com:acme/shop.git
            deploy_to: /var/www/shop
            sudo_password: hunter2
            env:
              API_TOKEN: abc123
              LOG_LEVEL: info
            environments: {production: {hosts: {web1: }}}
        notify:
          - url: https://hooks.slack.com/services/T0/B0/x
        """)
    assert config.projects["shop"].sudo_password == "hunter2"
    clear = "secret written in clear; use {secret: NAME} and 'deploytui secret set NAME'"
    assert config.warnings == (
        f"deploytui.yml:5: projects.shop.sudo_password: {clear}",
        f"deploytui.yml:7: projects.shop.env.API_TOKEN: {clear}",
        f"deploytui.yml:11: notify[0].url: {clear}",
    )


def test_a_secret_reference_where_no_secret_belongs() -> None:
    assert problems(MINIMAL.replace("git@github.com:acme/shop.git", "{secret: repo-url}")) == [
        "deploytui.yml:3: projects.shop.repo: a {secret: NAME} reference is not allowed here "
        "(only in ssh.passphrase, ssh.key, projects.*.sudo_password, projects.*.env values, "
        "notify[].url)"]


def test_a_secret_name_is_letters_digits_dash_underscore_dot() -> None:
    assert problems("ssh:\n  passphrase: {secret: my key}\n" + MINIMAL) == [
        "deploytui.yml:2: ssh.passphrase.secret: secret name 'my key' must be letters, digits, "
        "'-', '_' or '.'"]


# -- where the file is looked for --------------------------------------------------------


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A working directory and user config directory with no config in them."""
    monkeypatch.delenv("DEPLOYTUI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def test_lookup_order_explicit_then_variable_then_local_then_user(
        nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = nowhere / "xdg/deploytui/config.yml"
    user.parent.mkdir(parents=True)
    user.write_text(MINIMAL)
    assert locate_config(None) == user
    Path("deploytui.yml").write_text(MINIMAL)
    assert locate_config(None) == Path("deploytui.yml")
    from_env = nowhere / "from-env.yml"
    from_env.write_text(MINIMAL)
    monkeypatch.setenv("DEPLOYTUI_CONFIG", str(from_env))
    assert locate_config(None) == from_env
    explicit = nowhere / "explicit.yml"
    explicit.write_text(MINIMAL)
    assert locate_config(explicit) == explicit
    assert load_config(explicit).path == explicit


def test_no_config_anywhere_is_one_line_listing_where_it_looked(nowhere: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        locate_config(None)
    assert str(caught.value) == (
        "no config file found (looked for --config, $DEPLOYTUI_CONFIG, ./deploytui.yml, "
        f"{nowhere}/xdg/deploytui/config.yml); `deploytui init` writes a starter "
        "./deploytui.yml for your app, `deploytui demo` opens the built-in demo")


def test_a_missing_file_named_by_the_variable_is_an_error_not_a_fallback(
        nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Path("deploytui.yml").write_text(MINIMAL)
    monkeypatch.setenv("DEPLOYTUI_CONFIG", str(nowhere / "typo.yml"))
    with pytest.raises(ConfigError) as caught:
        locate_config(None)
    assert str(caught.value) == f"{nowhere}/typo.yml: no such file (from $DEPLOYTUI_CONFIG)"
