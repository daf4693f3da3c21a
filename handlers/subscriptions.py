"""`/papers subscribe`, `unsubscribe` and `subscriptions`: a person's own alerts, answered privately. Each acks
first, then (on the answer pool, bot.lanes.after_ack) calls one function of bot.alerts and replies with a builder
of bot.blocks.alerts (the same shape as the subcommands in handlers/commands.py, registered in its SUBCOMMANDS)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot import alerts
from bot.blocks import alerts as alert_blocks
from bot.deps import deps_of
from bot.lanes import after_ack


def papers_subscribe(
    ack: Ack, command: dict[str, Any], args: str, respond: Respond, context: BoltContext, **_: Any
) -> None:
    """`/papers subscribe <keywords | author:… | topic:…>`: a daily DM with the day's papers that match."""
    ack()
    deps = deps_of(context)

    def work() -> None:
        try:
            done = alerts.subscribe(deps, team_id=command["team_id"], user_id=command["user_id"], text=args)
        except alerts.SubscriptionError as exc:
            respond(response_type="ephemeral", **alert_blocks.subscription_error(str(exc), _name(command)))
            return
        reply = alert_blocks.subscribed(text=done.text, number=done.number, created=done.created, count=done.count)
        respond(response_type="ephemeral", **reply)

    after_ack(deps, respond, work, what="/papers subscribe")


def papers_unsubscribe(
    ack: Ack, command: dict[str, Any], args: str, respond: Respond, context: BoltContext, **_: Any
) -> None:
    """`/papers unsubscribe <n …|all>`: stop alerts by the numbers `/papers subscriptions` shows."""
    ack()
    deps = deps_of(context)

    def work() -> None:
        try:
            done = alerts.unsubscribe(deps, team_id=command["team_id"], user_id=command["user_id"], args=args)
        except alerts.SubscriptionError as exc:
            respond(response_type="ephemeral", **alert_blocks.subscription_error(str(exc), _name(command)))
            return
        respond(response_type="ephemeral", **alert_blocks.unsubscribed(removed=done.removed, remaining=done.remaining))

    after_ack(deps, respond, work, what="/papers unsubscribe")


def papers_subscriptions(ack: Ack, command: dict[str, Any], respond: Respond, context: BoltContext, **_: Any) -> None:
    """`/papers subscriptions`: the person's alerts, numbered."""
    ack()
    deps = deps_of(context)

    def work() -> None:
        texts = alerts.subscription_texts(deps, team_id=command["team_id"], user_id=command["user_id"])
        respond(response_type="ephemeral", **alert_blocks.subscriptions_list(texts))

    after_ack(deps, respond, work, what="/papers subscriptions")


def _name(command: dict[str, Any]) -> str:
    return str(command.get("command") or "/papers")
