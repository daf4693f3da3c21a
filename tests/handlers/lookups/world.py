"""The lookup tests' world: the sample papers, a discussion of one of them in a public and a private channel, and
helpers that ask the bot through its signed endpoint and read the answer wherever it lands."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.blocks import validate
from bot.deps import Deps
from bot.sources.sample import sample_records
from storage.models import Post, Reaction, Reply, Workspace
from storage.papers import upsert_papers
from tests.fakes.slack import BOT_USER_ID, TEAM_ID, FakeSlack, SlackSender

DAY = date(2026, 11, 24)
REPLICA = "2111.12997"  # "Replica symmetry breaking in dense neural networks"
TRANSFORMER = "2410.13732"  # "Reducing the Transformer Architecture to a Minimum"
PUBLIC, PRIVATE = "C0001", "CPRIV"


def seed_discussion(deps: Deps) -> None:
    """The 31 sample papers; the replica paper discussed in a public channel (2 votes, 1 reply) and in a private
    one (3 votes, 2 replies)."""
    with deps.sessions.begin() as session:
        upsert_papers(session=session, records=sample_records(DAY))
        session.add(Workspace(team_id=TEAM_ID, bot_user_id=BOT_USER_ID))
        session.flush()
        for channel, ts, voters, replies in (
            (PUBLIC, "1.0", ("U1", "U2"), 1),
            (PRIVATE, "2.0", ("U3", "U4", "U5"), 2),
        ):
            session.add(Post(team_id=TEAM_ID, channel_id=channel, ts=ts, arxiv_id=REPLICA, kind="digest"))
            for user in voters:
                session.add(
                    Reaction(
                        team_id=TEAM_ID,
                        channel_id=channel,
                        message_ts=ts,
                        user_id=user,
                        emoji="+1",
                        arxiv_id=REPLICA,
                    )
                )
            for n in range(replies):
                session.add(
                    Reply(
                        team_id=TEAM_ID,
                        channel_id=channel,
                        thread_ts=ts,
                        ts=f"{ts}{n + 1}",
                        user_id="U9",
                        text="x",
                        arxiv_id=REPLICA,
                    )
                )


def shown(reply: dict[str, Any]) -> str:
    """Everything a person reads of a reply: its blocks and its text."""
    return json.dumps(reply.get("blocks") or []) + str(reply.get("text", ""))


def said(payload: dict[str, Any] | None) -> bool:
    """True when a payload shows the person something (non-empty text or blocks)."""
    return bool(payload) and bool(str((payload or {}).get("text") or "").strip() or (payload or {}).get("blocks"))


@dataclass
class Asked:
    """What came back for one `/papers` command: the ack's body (None when empty), and the response_url reply
    (None when none arrived); `ack_first` is True when the HTTP ack returned before the reply arrived."""

    status: int
    ack: dict[str, Any] | None
    reply: dict[str, Any] | None
    ack_first: bool

    @property
    def answer(self) -> dict[str, Any]:
        """What the person sees: the ack's body, else the response_url reply (the test fails if neither said
        anything)."""
        found = self.ack if said(self.ack) else self.reply
        assert found is not None and said(found), f"silence: ack {self.ack!r}, reply {self.reply!r}"
        return found


def ask(
    sender: SlackSender,
    slack: FakeSlack,
    text: str,
    *,
    channel: str = PUBLIC,
    user: str = "U0001",
    timeout: float = 10.0,
) -> Asked:
    """Run `/papers <text>`: the ack body, and the response_url reply when the ack said nothing (waited for up to
    `timeout` seconds). Every payload seen is checked against Slack's Block Kit limits."""
    key = uuid.uuid4().hex
    response = sender.command(text, channel=channel, user=user, response_url=slack.response_url(key))

    def reply() -> dict[str, Any] | None:
        return next((r for r in slack.responses if r["key"] == key), None)

    ack_first = reply() is None
    ack = response.json() if response.status_code == 200 and response.content else None
    found = slack.wait_for(reply, timeout=timeout) if response.status_code == 200 and not said(ack) else reply()
    for payload in (ack, found):
        if said(payload):
            validate({k: v for k, v in (payload or {}).items() if k in ("text", "blocks")})
    return Asked(response.status_code, ack, found, ack_first)
