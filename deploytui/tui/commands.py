"""The command palette (ctrl+p): every console action, every environment, every theme."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

ACTIONS: list[tuple[str, str, str]] = [
    ("Deploy the selected environment", "deploy", "show the plan, then deploy"),
    ("Stop the running operation", "cancel_deploy", "safe before the switch"),
    ("Releases: browse, roll back, prune", "releases", "releases x hosts"),
    ("History of deploys", "history", "past operations and their logs"),
    ("Filter the pane in focus (hosts, or the log)", "filter", "type to filter"),
    ("Run a command of the project (commands:)", "run_command", "pick one; output per host"),
    ("Shell on the selected host (ssh)", "shell", "in current, with the env; exit returns"),
    ("Logs: follow every host's logs", "logs", "the roles' logs: and logs_command:"),
    ("Follow logs on/off", "toggle_follow", ""),
    ("Show all hosts' logs", "all_hosts", "interleaved, host prefixed"),
    ("Refresh host status", "refresh", "reachability, current release, lock"),
    ("Notifications: every message so far", "app.notifications", "errors stay here"),
    ("Help: keys", "help", ""),
    ("Quit", "quit_console", ""),
]


class ConsoleCommands(Provider):
    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        from deploytui.tui.app import DeployConsole

        app = self.app
        assert isinstance(app, DeployConsole)
        out: list[tuple[str, Callable[[], object], str]] = [
            (label, partial(app.run_action, action, app.main), help_text)
            for label, action, help_text in ACTIONS]
        for name in sorted(app.available_themes):
            if name.startswith("deploytui") or name in getattr(app, "user_themes", ()):
                out.append((f"Theme: {name}", partial(setattr, app, "theme", name),
                            "switch and remember"))
        main = app.main
        if main.project is not None:
            for name, command in app.config.projects[main.project].commands.items():
                out.append((f"Run {name}: {command.run}", partial(main.run_named, name),
                            f"on {command.on}" + (", asks first" if command.confirm else "")))
        for project in app.config.projects.values():
            for env in project.environments:
                out.append((f"Open {project.name} / {env}",
                            partial(app.main.select_environment, project.name, env),
                            f"{len(project.environments[env].hosts)} host(s)"))
        return out

    async def discover(self) -> Hits:
        for label, callback, help_text in self._commands():
            yield DiscoveryHit(label, callback, help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, callback, help_text in self._commands():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), callback, help=help_text or None)
