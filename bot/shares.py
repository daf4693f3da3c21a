"""Top-level channel messages about papers: a person's message with a paper link is a `share` post of the first
paper it links to, whether the link was there when it was posted or added by an edit; a paper post deleted in
Slack (a share, or a digest or lookup message when Slack tells us) is marked deleted and stops counting.

On bot.activity's machinery: each change runs in one transaction that claims the event (a Slack retry, or the
same event on another replica, changes nothing) and is retried when the database hiccups.

A share of a paper nobody stored yet is recorded at once, against a placeholder paper row (storage.papers'
PLACEHOLDER source, titled `arXiv:<id>`), so votes and replies arriving while the paper is fetched count; the
fetch (Hugging Face, else arXiv) runs outside any transaction and fills the row in.

A message is a share once: its post is keyed by the message, so a second edit, an edit of a message that was a
share from the start, or a late delivery after its delete finds the post and changes nothing. An edit that
removes the link, or links another paper, leaves the share as it is (the votes and replies it gathered were
given to that paper); deleting the message is how a share is withdrawn. Nothing is destroyed by a delete: the
post, its reactions and its replies stay stored, and storage.tally leaves them out of every count.
"""

from __future__ import annotations

import logging
from enum import Enum

from bot.activity import Delivery, Message, NotStored, Outcome, by_bot, finish_row, first_delivery, stored, transaction
from bot.deps import Deps
from bot.enrich import PaperUnavailable, fetch_paper
from bot.links import find_arxiv_ids
from storage.papers import PLACEHOLDER, get_paper, upsert_papers
from storage.posts import find_post, mark_post_deleted, record_post
from storage.records import PaperRecord

log = logging.getLogger(__name__)


def message_posted(deps: Deps, delivery: Delivery, message: Message) -> Outcome:
    """A person's new top-level message with a paper link becomes a `share` post of the first paper it links to;
    CHANGED when it did."""
    if by_bot(delivery, message) or message.is_reply or not (ids := find_arxiv_ids(message.text)):
        return Outcome.IGNORED
    return _record_share(deps, delivery, message, ids[0])


def message_edited(deps: Deps, delivery: Delivery, message: Message) -> Outcome:
    """An edit that gives a person's top-level message a paper link makes it a `share` (once: a message that is a
    post already, deleted or not, stays as it is)."""
    return message_posted(deps, delivery, message)


def message_deleted(deps: Deps, delivery: Delivery, message: Message) -> Outcome:
    """A deleted top-level message (`message` as it was): its paper post, whoever posted it, is marked deleted.
    A person's message with a paper link but no post yet is NOT_KNOWN_YET (its share may still be on its way)."""
    if message.is_reply:
        return Outcome.IGNORED

    def attempt() -> Outcome:
        with transaction(deps, delivery) as session:
            if find_post(session=session, team_id=delivery.team_id, channel_id=message.channel_id, ts=message.ts):
                if not first_delivery(session, delivery):
                    return Outcome.UNCHANGED
                marked = mark_post_deleted(
                    session=session, team_id=delivery.team_id, channel_id=message.channel_id, ts=message.ts
                )
                return Outcome.CHANGED if marked else Outcome.UNCHANGED
        if not by_bot(delivery, message) and find_arxiv_ids(message.text):
            return Outcome.NOT_KNOWN_YET
        return Outcome.IGNORED

    return stored(deps, delivery, attempt)


def placeholder_record(arxiv_id: str) -> PaperRecord:
    """The paper row a share needs before its paper is fetched: `placeholder_record("2502.12345").title ==
    "arXiv:2502.12345"`; any real record of the paper replaces its values (storage.papers' merge rules)."""
    return PaperRecord(arxiv_id=arxiv_id, title=f"arXiv:{arxiv_id}", source=PLACEHOLDER)


def _record_share(deps: Deps, delivery: Delivery, message: Message, arxiv_id: str) -> Outcome:
    """Make the message a `share` post of `arxiv_id` at once, then fetch the paper if it is unknown or still a
    placeholder (an earlier fetch failed) and fill it in."""
    recorded = stored(deps, delivery, lambda: _share_now(deps, delivery, message, arxiv_id))
    if recorded is _Share.NOTHING:
        return Outcome.UNCHANGED
    if recorded is _Share.TO_FETCH:
        _fill_in(deps, delivery, message, arxiv_id)
    return Outcome.CHANGED


class _Share(Enum):
    """What _share_now did: nothing (a post already, or not the first delivery), a share of a stored paper, or
    one still to fetch."""

    NOTHING = "nothing"
    KNOWN = "known"
    TO_FETCH = "to fetch"


def _share_now(deps: Deps, delivery: Delivery, message: Message, arxiv_id: str) -> _Share:
    """The share post, in the event's transaction, with a placeholder paper row when nobody stored the paper: so
    votes and replies on the share count from now on, even while the paper is fetched."""
    with transaction(deps, delivery) as session:
        if find_post(session=session, team_id=delivery.team_id, channel_id=message.channel_id, ts=message.ts):
            finish_row(session, delivery)
            return _Share.NOTHING  # a share recorded before (a retry without event id, an edit, a deleted share)
        if not first_delivery(session, delivery):
            return _Share.NOTHING
        paper = get_paper(session=session, arxiv_id=arxiv_id)
        if paper is None:
            upsert_papers(session=session, records=[placeholder_record(arxiv_id)])
        record_post(
            session=session,
            team_id=delivery.team_id,
            channel_id=message.channel_id,
            ts=message.ts,
            arxiv_id=arxiv_id,
            kind="share",
            user_id=message.user_id,
        )
        return _Share.TO_FETCH if paper is None or paper.source == PLACEHOLDER else _Share.KNOWN


def _fill_in(deps: Deps, delivery: Delivery, message: Message, arxiv_id: str) -> None:
    """Fetch a shared paper and store it over its placeholder; when nobody has it, the placeholder stays (for
    the paper's next fetch: a digest, `paperbot fetch`, an import, another share) and the log says so."""
    try:
        record = fetch_paper(deps.settings, arxiv_id, sessions=deps.sessions)
    except PaperUnavailable as exc:
        log.warning(
            "arXiv %s, shared in %s (message %s), keeps its placeholder title until a later fetch: %s",
            arxiv_id,
            message.channel_id,
            message.ts,
            exc,
        )
        return

    def store() -> None:
        with deps.sessions.begin() as session:
            upsert_papers(session=session, records=[record])

    try:
        stored(deps, delivery, store)
    except NotStored as exc:
        log.error("arXiv %s keeps its placeholder title until a later fetch: storing it failed (%s)", arxiv_id, exc)
