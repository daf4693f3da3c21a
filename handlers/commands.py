"""The `/papers` slash command: ack first, parse, call one function of bot logic, reply with a builder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot import blocks

Subcommand = Callable[..., None]


def papers_help(ack: Ack, command: dict[str, Any], **_: Any) -> None:
    ack(response_type="ephemeral", **blocks.help_message(command.get("command", "/papers")))


SUBCOMMANDS: dict[str, Subcommand] = {"help": papers_help, "": papers_help}


def papers(ack: Ack, command: dict[str, Any], respond: Respond, context: BoltContext, client: Any,
           logger: Any) -> None:
    """Dispatch `/papers <subcommand> ...` to its function; anything unknown gets the usage."""
    text = (command.get("text") or "").strip()
    name, _, rest = text.partition(" ")
    handler = SUBCOMMANDS.get(name.lower())
    if handler is None:
        ack(response_type="ephemeral",
            **blocks.usage_error(f"I don't know the subcommand `{name}`.", command.get("command", "/papers")))
        return
    handler(ack=ack, command=command, args=rest.strip(), respond=respond, context=context, client=client,
            logger=logger)


def register(app: App) -> None:
    app.command("/papers")(papers)
