"""Projects → environments. A leaf's data is (project, environment); a project's is
(project, None)."""

from __future__ import annotations

from textual.widgets import Tree

from deploytui.config.model import Config
from deploytui.tui.keymap import VIM_BINDINGS

Target = tuple[str, str | None]


class ProjectTree(Tree[Target]):
    BINDINGS = VIM_BINDINGS

    def fill(self, config: Config) -> tuple[str, str] | None:
        """One node per project, one leaf per environment; the first environment."""
        first: tuple[str, str] | None = None
        for project in config.projects.values():
            node = self.root.add(project.name, data=(project.name, None), expand=True)
            for env in project.environments:
                node.add_leaf(env, data=(project.name, env))
                first = first or (project.name, env)
        return first

    def show_selected(self, project: str | None, environment: str | None) -> None:
        """The cursor on the selected environment (chosen by key, palette or code)."""
        node = self.cursor_node
        if node is not None and node.data == (project, environment):
            return
        for project_node in self.root.children:
            for leaf in project_node.children:
                if leaf.data == (project, environment):
                    self.move_cursor(leaf)
                    return
