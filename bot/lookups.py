"""The team's paper lookup: `show`, `search`, `top` and `filter`, each answering with papers and the team's activity
on them as the person asking may see it (storage.lookups keeps private channels inside).

Called by handlers (the slash command, buttons, @mentions, DMs) and by `paperbot search`; every function owns its
short transactions. The search engine is passed in (bot.search.service keeps it filled from the database).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from bot.choose import matches
from bot.deps import Deps, SearchEngine
from bot.search.query import Filters, Query, is_category
from storage import lookups as store
from storage.lookups import Ranking, TeamActivity, Viewer
from storage.models import Paper
from storage.papers import get_papers
from storage.saved import saved_papers

log = logging.getLogger(__name__)

QUICK_SLACK_TIMEOUT = 1  # seconds an answer waits for Slack's word on a channel or a permalink

CANDIDATES = 2000  # papers a filter considers before its terms are checked one by one
PERMALINKS = 3  # thread links per paper in an answer


@dataclass
class Found:
    """One paper of an answer: the paper, the team's activity on it, and permalinks to its threads."""

    paper: Paper
    activity: TeamActivity
    permalinks: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass
class Answer:
    """The papers of an answer (one page), whether more follow, and the nearest titles when nothing matched."""

    found: list[Found]
    more: bool = False
    suggestions: list[str] = field(default_factory=list)
    note: str | None = None


def found_for(deps: Deps, client: WebClient | None, viewer: Viewer, arxiv_ids: Sequence[str]) -> dict[str, Found]:
    """The stored papers among `arxiv_ids` with the team's activity on them, as the viewer may see it (the
    privacy of channels holding their posts learnt first; when every one is known, one transaction)."""
    read = None
    with deps.reads.begin() as session:
        # Most papers an answer shows (a search's especially) were never posted: nothing to learn or count.
        posted = store.posted_among(session=session, team_id=viewer.team_id, arxiv_ids=arxiv_ids)
        unknown = set()
        if client is not None and posted:
            unknown = store.unknown_channels(session=session, team_id=viewer.team_id, arxiv_ids=posted)
        if not unknown:
            read = _papers_and_activity(deps, session, viewer, arxiv_ids, posted)
    if read is None:  # Slack is asked outside any transaction, then the papers are read
        if client is not None:
            _ask_privacy(deps, client, viewer.team_id, unknown)
        with deps.reads.begin() as session:
            read = _papers_and_activity(deps, session, viewer, arxiv_ids, posted)
    papers, activity = read
    found = {i: Found(papers[i], activity[i]) for i in arxiv_ids if i in papers}
    if client is not None:
        for item in found.values():
            item.permalinks = permalinks(client, item.activity)
    return found


def _papers_and_activity(
    deps: Deps, session: Session, viewer: Viewer, arxiv_ids: Sequence[str], posted: set[str]
) -> tuple[dict[str, Paper], dict[str, TeamActivity]]:
    """The papers and the team's activity on them (none to read when the team posted none of them)."""
    papers = get_papers(session=session, arxiv_ids=arxiv_ids)
    activity = {i: TeamActivity() for i in papers}
    if posted:
        activity |= store.team_activity(
            session=session, viewer=viewer, arxiv_ids=list(papers), vote_emoji=deps.settings.vote_emoji
        )
    session.expunge_all()
    return papers, activity


def learn_privacy(deps: Deps, client: WebClient, team_id: str, arxiv_ids: Sequence[str] | None) -> None:
    """Ask Slack whether the channels holding these papers' posts (None: any paper's) are private, for those not
    known yet (or not checked for a day). A channel Slack refuses to describe (a DM, a channel the bot left) is
    stored as private, so it is not asked about again at every lookup; one it could not be asked about (Slack
    unreachable) stays unknown, which counts as private too."""
    with deps.reads.begin() as session:
        unknown = store.unknown_channels(session=session, team_id=team_id, arxiv_ids=arxiv_ids)
    _ask_privacy(deps, client, team_id, unknown)


def _ask_privacy(deps: Deps, client: WebClient, team_id: str, unknown: Iterable[str]) -> None:
    """Ask Slack about each channel of `unknown` and store what it said (see `learn_privacy`)."""
    unknown = sorted(unknown)
    quick = quick_client(client) if unknown else client
    for channel_id in unknown:
        try:
            info = quick.conversations_info(channel=channel_id)["channel"]
            private = bool(info.get("is_private") or info.get("is_group") or info.get("is_im") or info.get("is_mpim"))
        except SlackApiError as exc:
            if exc.response.status_code == 429 or exc.response.status_code >= 500:  # Slack busy: ask next time
                log.info(
                    "cannot tell whether %s is private (Slack answered %s); treated as private",
                    channel_id,
                    exc.response.status_code,
                )
                continue
            log.info("Slack will not describe %s (%s); treated as private", channel_id, exc)  # a definite no
            private = True
        except (KeyError, TypeError) as exc:  # an answer without a channel: private, asked again tomorrow
            log.info("Slack will not describe %s (%s); treated as private", channel_id, exc)
            private = True
        except (SlackClientError, OSError) as exc:
            log.info("cannot tell whether %s is private (%s); treated as private", channel_id, exc)
            continue
        with deps.sessions.begin() as session:
            store.remember_privacy(session=session, team_id=team_id, channel_id=channel_id, is_private=private)


def quick_client(client: WebClient) -> WebClient:
    """`client` without retries and with a short timeout: what an answer asks Slack on the way (is a channel
    private? a thread's permalink?) must not hold the answer past Slack's 3 seconds when Slack is rate limiting
    or failing; what it could not learn counts as private, or is left out."""
    return WebClient(token=client.token, base_url=client.base_url, timeout=QUICK_SLACK_TIMEOUT, retry_handlers=[])


def permalinks(client: WebClient, activity: TeamActivity) -> dict[tuple[str, str], str]:
    """Links to the newest few threads of a paper (chat.getPermalink); a thread Slack will not link is left out."""
    links = {}
    quick = quick_client(client)
    for thread in activity.threads[:PERMALINKS]:
        try:
            answer = quick.chat_getPermalink(channel=thread.channel_id, message_ts=thread.ts)
            links[(thread.channel_id, thread.ts)] = str(answer["permalink"])
        except (SlackApiError, SlackClientError, OSError, KeyError) as exc:
            log.info("no permalink for %s/%s: %s", thread.channel_id, thread.ts, exc)
    return links


# ---- search -------------------------------------------------------------------------------------------------


def search(
    deps: Deps,
    engine: SearchEngine,
    client: WebClient | None,
    viewer: Viewer,
    query: Query,
    *,
    user_id: str | None,
    today: date,
    limit: int = 5,
) -> Answer:
    """The papers best matching the query's text that pass its terms, in the `sort:` order if one is given; the
    team's papers win near-ties. Terms without text are a filter (`search author:Ho` = `filter author:Ho`)."""
    if not query.text.strip():
        return filtered(deps, engine, client, viewer, query, user_id=user_id, today=today, per_page=limit)
    _learn_team_privacy(deps, client, viewer, query.filters)
    boost = TeamBoost(deps, viewer)
    want = limit if query.filters.empty else CANDIDATES
    hits = list(engine.search(query.text, limit=max(want, limit), boost=boost))
    ids = [hit.arxiv_id for hit in hits]
    if not query.filters.empty:
        ids = kept(deps, viewer, ids, query.filters, user_id=user_id, today=today)
        ids = _sorted(deps, viewer, ids, query.filters.sort)
    found = found_for(deps, client, viewer, ids[:limit])
    answer = Answer([found[i] for i in ids[:limit] if i in found])
    if not answer.found:
        answer.suggestions = [hit.title for hit in hits[:3]] or _nearest(engine, query)
    return answer


def _learn_team_privacy(deps: Deps, client: WebClient | None, viewer: Viewer, terms: Filters) -> None:
    """Before terms that read the team's activity across papers (votes, replies, channel, discussed, sort by
    votes or replies), learn every channel's privacy: a channel not known yet would count as private, and a paper
    discussed only there would fail the term wherever it is asked from."""
    if client is not None and (needs_team(terms) or terms.sort in ("votes", "replies")):
        learn_privacy(deps, client, viewer.team_id, None)


class TeamBoost:
    """What the team made of a paper, where the viewer may see it, as the engine's near-tie boost: 1.0 for a paper
    the team voted on or replied to, 0.5 for one it only posted (a digest's pick, a shared link), 0 for the rest.

    Which papers the team posted is read once, in one query (a few thousand ids at most). Votes and replies are
    read only for a posted paper the engine asks about: it asks only about the papers near the top of a search,
    usually none of them posted (one transaction for every candidate once cost ~90 ms a search)."""

    POSTED, ENGAGED = 0.5, 1.0

    def __init__(self, deps: Deps, viewer: Viewer) -> None:
        self._deps, self._viewer = deps, viewer
        with deps.reads.begin() as session:
            self._posted = store.discussed_ids(session=session, viewer=viewer, arxiv_ids=None)
        self._boosts: dict[str, float] = {}

    def __call__(self, arxiv_id: str) -> float:
        if arxiv_id not in self._posted:
            return 0.0
        if arxiv_id not in self._boosts:
            with self._deps.reads.begin() as session:
                activity = store.team_activity(
                    session=session,
                    viewer=self._viewer,
                    arxiv_ids=[arxiv_id],
                    vote_emoji=self._deps.settings.vote_emoji,
                )[arxiv_id]
            self._boosts[arxiv_id] = self.ENGAGED if activity.votes or activity.replies else self.POSTED
        return self._boosts[arxiv_id]


def _nearest(engine: SearchEngine, query: Query) -> list[str]:
    """Titles near any single word of the query, when the whole query matched nothing."""
    titles: list[str] = []
    for word in query.words[:4]:
        titles += [hit.title for hit in engine.search(word, limit=2) if hit.title not in titles]
    return titles[:3]


# ---- top and filter -----------------------------------------------------------------------------------------


def top(
    deps: Deps,
    client: WebClient | None,
    viewer: Viewer,
    *,
    since: datetime | None,
    count: int,
    terms: Filters,
    user_id: str | None,
    today: date,
) -> Answer:
    """The team's most voted papers posted since then (then most discussed, then HF upvotes), passing `terms`."""
    if client is not None:  # the ranking reads every channel's posts: each must be known public to count
        learn_privacy(deps, client, viewer.team_id, None)
    with deps.reads.begin() as session:
        ranked = store.team_ranked(
            session=session,
            viewer=viewer,
            vote_emoji=deps.settings.vote_emoji,
            ranking=Ranking(posted_since=since),
            limit=count if terms.empty else CANDIDATES,
        )
    ids = [arxiv_id for arxiv_id, _votes, _replies in ranked]
    if not terms.empty:
        ids = kept(deps, viewer, ids, terms, user_id=user_id, today=today)[:count]
    found = found_for(deps, client, viewer, ids)
    return Answer([found[i] for i in ids if i in found])


def filtered(
    deps: Deps,
    engine: SearchEngine,
    client: WebClient | None,
    viewer: Viewer,
    query: Query,
    *,
    user_id: str | None,
    today: date,
    page: int = 0,
    per_page: int = 10,
) -> Answer:
    """The papers passing every term, in the `sort:` order (or by relevance), one page at a time."""
    _learn_team_privacy(deps, client, viewer, query.filters)
    candidates = _candidates(deps, engine, viewer, query, user_id=user_id)
    ids = kept(deps, viewer, candidates, query.filters, user_id=user_id, today=today)
    ids = _sorted(deps, viewer, ids, query.filters.sort)
    start = page * per_page
    found = found_for(deps, client, viewer, ids[start : start + per_page])
    capped = len(candidates) >= CANDIDATES
    note = f"Only the best {CANDIDATES} candidates were checked against the terms: add a term." if capped else None
    return Answer(
        [found[i] for i in ids[start : start + per_page] if i in found], len(ids) > start + per_page, note=note
    )


def _candidates(deps: Deps, engine: SearchEngine, viewer: Viewer, query: Query, *, user_id: str | None) -> list[str]:
    """Where a filter starts: the text's search hits; else the team's papers (when a term needs the team's
    activity), the person's saved papers, the papers the engine finds for the author/keyword/topic words, or
    the stored papers in the date and upvote range, newest first."""
    terms = query.filters
    if query.text:
        return [hit.arxiv_id for hit in engine.search(query.text, limit=CANDIDATES)]
    if terms.votes or terms.replies or terms.channel or terms.discussed:
        with deps.reads.begin() as session:
            ranked = store.team_ranked(
                session=session,
                viewer=viewer,
                vote_emoji=deps.settings.vote_emoji,
                ranking=Ranking(channel_id=terms.channel.id if terms.channel else None),
                limit=CANDIDATES,
            )
        return [arxiv_id for arxiv_id, _v, _r in ranked]
    if terms.saved_by_me and user_id:
        with deps.reads.begin() as session:
            return [
                p.arxiv_id
                for p in saved_papers(session=session, team_id=viewer.team_id, user_id=user_id, limit=CANDIDATES)
            ]
    # A topic that is not an arXiv category is a Hugging Face keyword, also read in titles (`passes`): the engine
    # finds the papers holding it, as for authors and keywords.
    words = " ".join((*terms.authors, *terms.keywords, *(t for t in terms.topics if not is_category(t))))
    if words:
        return [hit.arxiv_id for hit in engine.search(words, limit=CANDIDATES)]
    with deps.reads.begin() as session:
        return _by_facts(session, terms)


def _by_facts(session: Session, terms: Filters) -> list[str]:
    """The stored papers in the terms' date range and arXiv categories, newest first (every topic here is one)."""
    query = select(Paper.arxiv_id)
    day = func.coalesce(Paper.published, Paper.daily_date)  # as `passes` reads a paper's day
    if terms.since:
        query = query.where(day >= terms.since)
    if terms.until:
        query = query.where(day <= terms.until)
    for topic in terms.topics:
        query = query.where(or_(Paper.primary_category == topic, cast(Paper.categories, String).like(f'%"{topic}"%')))
    query = query.order_by(day.desc().nulls_last(), Paper.arxiv_id).limit(CANDIDATES)
    return list(session.scalars(query))


def kept(
    deps: Deps, viewer: Viewer, ids: Sequence[str], terms: Filters, *, user_id: str | None, today: date
) -> list[str]:
    """`ids` (in order) without the papers that fail any term."""
    with deps.reads.begin() as session:
        papers = get_papers(session=session, arxiv_ids=ids)
        activity = (
            store.team_activity(
                session=session, viewer=viewer, arxiv_ids=list(papers), vote_emoji=deps.settings.vote_emoji
            )
            if needs_team(terms)
            else {}
        )
        saved = (
            {p.arxiv_id for p in saved_papers(session=session, team_id=viewer.team_id, user_id=user_id, limit=100_000)}
            if terms.saved_by_me and user_id
            else set()
        )
        return [
            i for i in ids if i in papers and passes(papers[i], activity.get(i, TeamActivity()), terms, saved=saved)
        ]


def needs_team(terms: Filters) -> bool:
    """True when a term is about the team's activity (votes, replies, a channel, discussed or not)."""
    return bool(terms.votes or terms.replies or terms.channel or terms.discussed is not None)


def passes(paper: Paper, activity: TeamActivity, terms: Filters, *, saved: set[str]) -> bool:
    """True when the paper passes every term (authors, topics and keywords by the digest's fuzzy rules)."""
    day = paper.published or paper.daily_date
    checks = [
        all(matches(paper, {"authors": [a]}) for a in terms.authors),
        all(matches(paper, {"topics": [t]}) for t in terms.topics),
        all(matches(paper, {"keywords": [k]}) for k in terms.keywords),
        terms.since is None or (day is not None and day >= terms.since),
        terms.until is None or (day is not None and day <= terms.until),
        all(c.matches(paper.hf_upvotes or 0) for c in terms.upvotes),
        all(c.matches(activity.votes) for c in terms.votes),
        all(c.matches(activity.replies) for c in terms.replies),
        terms.channel is None or any(t.channel_id == terms.channel.id for t in activity.threads),
        terms.discussed is None or activity.discussed == terms.discussed,
        not terms.saved_by_me or paper.arxiv_id in saved,
    ]
    return all(checks)


def _sorted(deps: Deps, viewer: Viewer, ids: list[str], sort: str | None) -> list[str]:
    if sort in (None, "relevance") or not ids:
        return ids
    with deps.reads.begin() as session:
        papers = get_papers(session=session, arxiv_ids=ids)
        activity = store.team_activity(
            session=session, viewer=viewer, arxiv_ids=ids, vote_emoji=deps.settings.vote_emoji
        )
    keys: dict[str, Callable[[str], Any]] = {
        "votes": lambda i: (-activity[i].votes, -activity[i].replies),
        "replies": lambda i: (-activity[i].replies, -activity[i].votes),
        "upvotes": lambda i: -(papers[i].hf_upvotes or 0),
        "date": lambda i: -(papers[i].published or papers[i].daily_date or date.min).toordinal(),
    }
    return sorted(ids, key=keys[sort])
