"""A person's view of the reading room: saving papers, a paper's details with the team's activity, the Home tab.

Called by handlers/actions.py and handlers/home.py; each function owns its short transactions. The Home tab's
team activity (`home`) is what its reader may see (docs/privacy.md): public channels, plus the private channels
Slack says they are a member of (bot.access, its answers kept a minute); a channel Slack will not describe or
list the members of counts as private and not theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.access import is_member
from bot.choose import Prefs, prefs_for
from bot.config import Settings
from bot.deps import Deps
from bot.lookups import learn_privacy, quick_client
from bot.scheduler import next_digest_at
from storage import lookups as lookup_store
from storage import saved as saved_store
from storage.channels import digest_channels, get_channel
from storage.lookups import Ranking, Viewer, scope_of
from storage.models import Paper, utcnow
from storage.papers import get_paper, get_papers
from storage.saved import SavedEntry
from storage.subscriptions import list_subscriptions
from storage.votes import Activity, OwnVote, paper_activity, votes_by

HOME_LIMIT = 500  # saved papers on the Home tab, paged (each takes two blocks of the 100 a view may hold)
TOP_WEEK = timedelta(days=7)  # "this week": papers posted in the last seven days
TOP_SHOWN = 5
VOTES_SHOWN = 10
MEMBER_CHECKS = 30  # private channels whose members are asked about at most per drawing; the rest stay hidden


@dataclass
class PaperView:
    """One paper as one person sees it: the paper, the team's activity on it, whether they saved it."""

    paper: Paper
    activity: Activity
    saved: bool


def save(sessions: sessionmaker[Session], *, team_id: str, user_id: str, arxiv_id: str) -> tuple[Paper | None, bool]:
    """Save a known paper to the person's list: (paper, newly saved); (None, False) for an unknown paper."""
    with sessions.begin() as session:
        paper = get_paper(session=session, arxiv_id=arxiv_id)
        if paper is None:
            return None, False
        return paper, saved_store.save_paper(session=session, team_id=team_id, user_id=user_id, arxiv_id=arxiv_id)


def unsave(sessions: sessionmaker[Session], *, team_id: str, user_id: str, arxiv_id: str) -> bool:
    """Remove a paper from the person's list; False when it was not on it."""
    with sessions.begin() as session:
        return saved_store.unsave_paper(session=session, team_id=team_id, user_id=user_id, arxiv_id=arxiv_id)


def details(
    sessions: sessionmaker[Session], settings: Settings, *, viewer: Viewer, user_id: str, arxiv_id: str
) -> PaperView | None:
    """A paper with the team's votes, reactions, replies and channels as the viewer may see them (public
    channels and the one the button was pressed in), or None when it is unknown."""
    with sessions.begin() as session:
        paper = get_paper(session=session, arxiv_id=arxiv_id)
        if paper is None:
            return None
        activity = paper_activity(
            session=session,
            team_id=viewer.team_id,
            arxiv_id=arxiv_id,
            vote_emoji=settings.vote_emoji,
            scope=scope_of(viewer),
        )
        saved = saved_store.is_saved(session=session, team_id=viewer.team_id, user_id=user_id, arxiv_id=arxiv_id)
        return PaperView(paper=paper, activity=activity, saved=saved)


def mark_read(sessions: sessionmaker[Session], *, team_id: str, user_id: str, arxiv_id: str, read: bool) -> bool:
    """Mark a saved paper read or unread; False when it is not on the list or was so already."""
    with sessions.begin() as session:
        return saved_store.mark_read(session=session, team_id=team_id, user_id=user_id, arxiv_id=arxiv_id, read=read)


@dataclass(frozen=True)
class TopPaper:
    """One of the team's papers this week with its votes and replies, counted where the reader may see."""

    paper: Paper
    votes: int
    replies: int


@dataclass(frozen=True)
class NextDigest:
    """A channel's daily digest and when it comes next, in the channel's own time zone (None: never)."""

    channel_id: str
    at: datetime | None
    timezone: str


@dataclass
class Home:
    """What the Home tab shows one person."""

    saved: list[SavedEntry]
    unread: int
    votes: list[OwnVote]
    top: list[TopPaper]
    subscriptions: list[str]
    digests: list[NextDigest]


def home(deps: Deps, client: WebClient, *, team_id: str, user_id: str, now: datetime | None = None) -> Home:
    """The person's Home tab: their reading list, votes and subscriptions, and the team's top papers this week and
    digest channels as far as they may see them (public channels, and private ones they are a member of)."""
    now = now or utcnow()
    with deps.reads.begin() as session:
        posted = lookup_store.posted_since(session=session, team_id=team_id, since=now - TOP_WEEK)
        digests = _digest_prefs(session, deps.settings, team_id)
    learn_privacy(deps, client, team_id, sorted({arxiv_id for _, arxiv_id in posted}))
    members, visible = _visible(deps, client, team_id, user_id, {c for c, _ in posted} | set(digests))
    with deps.reads.begin() as session:
        top = _top(session, deps.settings, Viewer(team_id, None, member_of=tuple(sorted(members))), now)
        _, unread = saved_store.count_saved(session=session, team_id=team_id, user_id=user_id)
        return Home(
            saved=saved_store.saved_entries(session=session, team_id=team_id, user_id=user_id, limit=HOME_LIMIT),
            unread=unread,
            votes=votes_by(
                session=session,
                team_id=team_id,
                user_id=user_id,
                vote_emoji=deps.settings.vote_emoji,
                limit=VOTES_SHOWN,
            ),
            top=top,
            subscriptions=[s.text for s in list_subscriptions(session=session, team_id=team_id, user_id=user_id)],
            digests=[
                NextDigest(c, next_digest_at(digests[c], now), digests[c].timezone)
                for c in sorted(digests)
                if c in visible
            ],
        )


def _top(session: Session, settings: Settings, viewer: Viewer, now: datetime) -> list[TopPaper]:
    """The papers posted this week that the team voted on or discussed most, where the viewer may see."""
    ranked = lookup_store.team_ranked(
        session=session,
        viewer=viewer,
        vote_emoji=settings.vote_emoji,
        ranking=Ranking(posted_since=now - TOP_WEEK),
        limit=TOP_SHOWN * 10,
    )
    ranked = [row for row in ranked if row[1] or row[2]][:TOP_SHOWN]  # a paper nobody touched is not "top"
    papers = get_papers(session=session, arxiv_ids=[arxiv_id for arxiv_id, _, _ in ranked])
    return [TopPaper(papers[i], votes, replies) for i, votes, replies in ranked if i in papers]


def _digest_prefs(session: Session, settings: Settings, team_id: str) -> dict[str, Prefs]:
    """Channel -> digest settings of the team's digest channels, PAPERBOT_DIGEST_CHANNEL included unless a row
    turned it off (the default channel of a single-workspace deployment, as the scheduler schedules it)."""
    found = {
        c.channel_id: prefs_for(c, settings=settings, team_id=team_id, channel_id=c.channel_id)
        for c in digest_channels(session=session, team_id=team_id)
    }
    default = settings.digest_channel
    if default and default not in found and get_channel(session=session, team_id=team_id, channel_id=default) is None:
        found[default] = prefs_for(None, settings=settings, team_id=team_id, channel_id=default)
    return found


def _visible(
    deps: Deps, client: WebClient, team_id: str, user_id: str, channels: set[str]
) -> tuple[set[str], set[str]]:
    """(private channels the person is in, every channel they may see) among `channels`: the public ones, and
    those of the others (private, or of unknown privacy) Slack says they are a member of. At most MEMBER_CHECKS
    are asked about; the rest count as not theirs."""
    with deps.reads.begin() as session:
        privacy = lookup_store.privacy_of(session=session, team_id=team_id, channel_ids=channels)
    unsure = sorted(c for c, private in privacy.items() if private is not False)
    quick = quick_client(client) if unsure else client
    answers = deps.slack_answers
    members = {
        c for c in unsure[:MEMBER_CHECKS] if is_member(quick, answers, team_id=team_id, channel_id=c, user_id=user_id)
    }
    return members, members | {c for c, private in privacy.items() if private is False}
