"""The read queries behind `/papers show`, `search`, `top` and `filter`: the team's activity on papers, limited to
what the person asking may see (callers own the transaction; only `remember_privacy` writes, and never commits).

Privacy: a post, vote or reply in a private channel is visible only to an answer given inside that channel. A
channel is public only when `channel_privacy` says so; one not known there counts as private until the caller has
asked Slack (bot.lookups resolves unknown channels with conversations.info before it reads).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.digests import aware
from storage.models import ChannelPrivacy, Paper, Post, Reaction, Reply, Workspace, utcnow
from storage.tally import Scope, count_activity, in_scope, post_threads, replies_per_thread

RECHECK = timedelta(days=1)  # how long Slack's word on a channel's privacy is trusted


@dataclass(frozen=True)
class Viewer:
    """Who is asking, and where: the team, and the channel the answer is given in (None: a DM or the CLI)."""

    team_id: str
    channel_id: str | None = None
    # Private channels the viewer is a member of (the Home tab asks Slack): their activity is visible too.
    member_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class Thread:
    """One post of a paper: where and when it was posted, and how many replies its thread has."""

    channel_id: str
    ts: str
    kind: str
    posted_at: datetime
    replies: int = 0


@dataclass
class TeamActivity:
    """What the team did with one paper, as far as the viewer may see."""

    votes: int = 0  # distinct people who reacted with a vote emoji
    reactions: dict[str, int] = field(default_factory=dict)  # emoji -> distinct people
    replies: int = 0  # thread replies by people, not deleted
    threads: list[Thread] = field(default_factory=list)  # newest first

    @property
    def discussed(self) -> bool:
        """True when the team posted, voted on or replied to the paper."""
        return bool(self.threads or self.votes or self.replies)


def remember_privacy(*, session: Session, team_id: str, channel_id: str, is_private: bool) -> None:
    """Store whether a channel is private (as an event or conversations.info just said)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = {"team_id": team_id, "channel_id": channel_id, "is_private": is_private, "checked_at": utcnow()}
    statement = insert(ChannelPrivacy).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["team_id", "channel_id"],
            set_={"is_private": statement.excluded.is_private, "checked_at": statement.excluded.checked_at},
        )
    )


def posted_among(*, session: Session, team_id: str, arxiv_ids: Iterable[str]) -> set[str]:
    """Which of these papers the team ever posted (any channel, deleted posts too): only those can have channels
    of unknown privacy, votes or replies."""
    ids = list(arxiv_ids)
    if not ids:
        return set()
    query = select(Post.arxiv_id).where(Post.team_id == team_id, Post.arxiv_id.in_(ids)).distinct()
    return set(session.scalars(query))


def unknown_channels(*, session: Session, team_id: str, arxiv_ids: Iterable[str] | None) -> set[str]:
    """The channels holding posts of these papers (None: of any paper) whose privacy is not known, or was last
    checked more than RECHECK ago (a public channel can be made private)."""
    ids = None if arxiv_ids is None else list(arxiv_ids)
    if ids == []:
        return set()
    known = select(ChannelPrivacy.channel_id).where(
        ChannelPrivacy.team_id == team_id, ChannelPrivacy.checked_at >= utcnow() - RECHECK
    )
    query = select(Post.channel_id).where(Post.team_id == team_id, Post.channel_id.not_in(known))
    if ids is not None:
        query = query.where(Post.arxiv_id.in_(ids))
    return set(session.scalars(query.distinct()))


def scope_of(viewer: Viewer, *, since_ts: str | None = None) -> Scope:
    """The tally scope of what the viewer may see: the team's posts in public channels and in the one asked in."""
    return Scope(
        team_id=viewer.team_id, since_ts=since_ts, public_only=True, here=viewer.channel_id, also=viewer.member_of
    )


def posted_since(*, session: Session, team_id: str, since: datetime) -> set[tuple[str, str]]:
    """(channel, arXiv id) of the team's posts since `since`: which papers were posted where."""
    query = select(Post.channel_id, Post.arxiv_id).where(Post.team_id == team_id, Post.created_at >= since)
    return {(channel, arxiv_id) for channel, arxiv_id in session.execute(query.distinct())}


def privacy_of(*, session: Session, team_id: str, channel_ids: Iterable[str]) -> dict[str, bool | None]:
    """Channel -> whether it is private, as `channel_privacy` last said (None: never asked)."""
    wanted = set(channel_ids)
    if not wanted:
        return {}
    known = session.execute(
        select(ChannelPrivacy.channel_id, ChannelPrivacy.is_private).where(
            ChannelPrivacy.team_id == team_id, ChannelPrivacy.channel_id.in_(wanted)
        )
    )
    found: dict[str, bool | None] = dict.fromkeys(wanted)
    found.update({channel: bool(private) for channel, private in known})
    return found


def team_activity(
    *, session: Session, viewer: Viewer, arxiv_ids: Sequence[str], vote_emoji: Iterable[str]
) -> dict[str, TeamActivity]:
    """Votes, reactions by emoji, replies and threads of each paper, as the viewer may see them (counted by
    storage.tally, the one counter; a few queries whatever the number of papers)."""
    ids = list(dict.fromkeys(arxiv_ids))
    if not ids:
        return {}
    scope = scope_of(viewer)
    threads = post_threads(session, scope, ids)
    found = {i: TeamActivity() for i in ids}
    # Votes are reactions on a paper's posts and replies are in their threads: a paper with no post the viewer
    # may see has none. Most papers a search finds were never posted, so often nothing more is read.
    posted = list(dict.fromkeys(threads.values()))
    if not posted:
        return found
    tallies = count_activity(session=session, scope=scope, arxiv_ids=posted, vote_emoji=vote_emoji, threads=threads)
    counted = session.execute(replies_per_thread(posted))
    per_thread = {(team, channel, ts): count for team, channel, ts, count in counted}
    found |= {i: TeamActivity(tallies[i].votes, tallies[i].reactions, tallies[i].replies) for i in posted}
    posts = session.scalars(
        select(Post).where(*in_scope(scope), Post.arxiv_id.in_(posted)).order_by(Post.created_at.desc(), Post.id.desc())
    )
    for post in posts:
        replies = per_thread.get((post.team_id, post.channel_id, post.ts), 0)
        found[post.arxiv_id].threads.append(Thread(post.channel_id, post.ts, post.kind, post.created_at, replies))
    return found


@dataclass(frozen=True)
class Ranking:
    """How `top` and `filter` order the team's papers and which of them they consider."""

    posted_since: datetime | None = None  # only papers with a visible post since then
    channel_id: str | None = None  # only papers posted in this channel
    min_votes: int = 0
    min_replies: int = 0
    sort: str = "votes"  # votes | replies | upvotes | date


def team_ranked(
    *, session: Session, viewer: Viewer, vote_emoji: Iterable[str], ranking: Ranking, limit: int, offset: int = 0
) -> list[tuple[str, int, int]]:
    """(arxiv_id, votes, replies) of the papers the team posted where the viewer may see, best first: by the
    team's votes, then replies, then HF upvotes (or by `ranking.sort`), the newest post breaking ties. A team
    posts a few papers a day, so its papers are ranked here, counted once by storage.tally."""
    conditions = [*in_scope(scope_of(viewer))]
    if ranking.posted_since is not None:
        conditions.append(Post.created_at >= ranking.posted_since)
    if ranking.channel_id is not None:
        conditions.append(Post.channel_id == ranking.channel_id)
    rows = session.execute(
        select(Post.arxiv_id, func.max(Post.created_at), func.max(Paper.hf_upvotes))
        .join(Paper, Paper.arxiv_id == Post.arxiv_id)
        .where(*conditions)
        .group_by(Post.arxiv_id)
    ).all()
    facts = {arxiv_id: (last, upvotes or 0) for arxiv_id, last, upvotes in rows}
    tallies = count_activity(session=session, scope=scope_of(viewer), arxiv_ids=list(facts), vote_emoji=vote_emoji)
    kept = [i for i in facts if tallies[i].votes >= ranking.min_votes and tallies[i].replies >= ranking.min_replies]
    key = _ORDER.get(ranking.sort, _ORDER["votes"])
    # aware(): SQLite hands the newest post's time back without a zone, which timestamp() reads as local time; in a
    # zone with daylight saving that is not even monotonic (the spring-forward gap maps an hour later).
    kept.sort(
        key=lambda i: (key(tallies[i].votes, tallies[i].replies, facts[i][1]), -aware(facts[i][0]).timestamp(), i)
    )
    return [(i, tallies[i].votes, tallies[i].replies) for i in kept[offset : offset + limit]]


_ORDER: dict[str, Callable[[int, int, int], tuple[int, ...]]] = {
    "votes": lambda votes, replies, upvotes: (-votes, -replies, -upvotes),
    "replies": lambda votes, replies, upvotes: (-replies, -votes, -upvotes),
    "upvotes": lambda votes, replies, upvotes: (-upvotes, -votes, -replies),
    "date": lambda votes, replies, upvotes: (),
}


def discussed_ids(*, session: Session, viewer: Viewer, arxiv_ids: Sequence[str] | None) -> set[str]:
    """Which of these papers (None: of all papers) have a post the viewer may see. A team posts a few papers a
    day, so all of them is a set of thousands at most: one query serves a whole search's tie-breaks."""
    if arxiv_ids is not None and not arxiv_ids:
        return set()
    query = select(Post.arxiv_id).where(*in_scope(scope_of(viewer)))
    if arxiv_ids is not None:
        query = query.where(Post.arxiv_id.in_(list(arxiv_ids)))
    return set(session.scalars(query.distinct()))


@dataclass(frozen=True)
class QuotedReply:
    """One reply worth quoting under a paper: who wrote it, what, and in which thread."""

    user_id: str
    text: str
    channel_id: str
    thread_ts: str


def quoted_replies(
    *, session: Session, team_id: str, threads: Mapping[str, Sequence[Thread]], vote_emoji: Iterable[str]
) -> dict[str, QuotedReply]:
    """arXiv id -> the first reply of the paper's most voted thread among `threads` (those the viewer may see;
    ties: more replies, then newer), for the papers whose threads have a reply. Reactions are stored on paper
    posts only, not on replies, so "the reply the team reacted to most" is read as the opening reply of the
    thread the team voted for most: its first take on the paper. Two queries whatever the number of papers."""
    discussed = {i: [t for t in ts if t.replies] for i, ts in threads.items()}
    discussed = {i: ts for i, ts in discussed.items() if ts}
    if not discussed:
        return {}
    bot_user = func.coalesce(select(Workspace.bot_user_id).where(Workspace.team_id == team_id).scalar_subquery(), "")
    voters = func.count(func.distinct(Reaction.user_id))
    voted = session.execute(
        select(Reaction.channel_id, Reaction.message_ts, voters)
        .where(
            Reaction.team_id == team_id,
            Reaction.arxiv_id.in_(list(discussed)),
            Reaction.emoji.in_(list(vote_emoji)),
            Reaction.user_id != bot_user,
        )
        .group_by(Reaction.channel_id, Reaction.message_ts)
    )
    votes = {(channel, ts): n for channel, ts, n in voted}
    best = {
        i: max(ts, key=lambda t: (votes.get((t.channel_id, t.ts), 0), t.replies, t.posted_at))
        for i, ts in discussed.items()
    }
    chosen = {(t.channel_id, t.ts): i for i, t in best.items()}
    replies = session.scalars(
        select(Reply)
        .where(
            Reply.team_id == team_id,
            Reply.arxiv_id.in_(list(discussed)),
            or_(*(and_(Reply.channel_id == c, Reply.thread_ts == ts) for c, ts in chosen)),
            Reply.deleted.is_(False),
            Reply.user_id.is_not(None),
            Reply.ts != Reply.thread_ts,
            Reply.user_id != bot_user,
        )
        .order_by(Reply.ts)
    )
    out: dict[str, QuotedReply] = {}
    for reply in replies:
        arxiv_id = chosen[(reply.channel_id, reply.thread_ts)]
        if arxiv_id not in out and reply.user_id and reply.text.strip():
            out[arxiv_id] = QuotedReply(reply.user_id, reply.text, reply.channel_id, reply.thread_ts)
    return out
