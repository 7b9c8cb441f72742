"""mkdocs hook: the command-line reference, printed from the click commands themselves so it cannot drift.

A page asks for it with ``<!-- cli-reference -->`` on a line of its own: it becomes the top-level help and
one section per ``cortex`` sub-command with its ``--help`` text, at a fixed width.
"""
from __future__ import annotations

import re

MARKER = re.compile(r"^<!-- cli-reference -->$", re.M)
WIDTH = 100


def _help(command, name: str, parent=None) -> str:
    import click

    settings = {**command.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    return command.get_help(click.Context(command, info_name=name, parent=parent, **settings))


def commands() -> list[str]:
    """The sub-commands of ``cortex``, in the order ``cortex --help`` lists them."""
    import click

    from cortex.cli import cli

    return cli.list_commands(click.Context(cli, info_name="cortex"))


def render() -> str:
    import click

    from cortex.cli import cli

    root = click.Context(cli, info_name="cortex", **{**cli.context_settings, "terminal_width": WIDTH,
                                                     "max_content_width": WIDTH})
    parts = ["```text", _help(cli, "cortex"), "```"]
    for name in commands():
        command = cli.get_command(root, name)
        parts += ["", f"### `cortex {name}`", "", "```text", _help(command, name, root), "```"]
    return "\n".join(parts)


def on_page_markdown(markdown, page, config, files):
    if MARKER.search(markdown):
        return MARKER.sub(lambda _: render(), markdown)
    return markdown
