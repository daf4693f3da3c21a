"""Choosing a digest: which day's list a channel gets, and which of its papers (pure functions, no I/O).

Which list: the newest *complete* one when the digest runs, and never one newer than the channel's own
yesterday: the earlier of the channel's local yesterday and the newest complete list (yesterday in US Eastern
time, bot.sources.hf.newest_complete_day). Weekend lists are skipped unless the channel wants them (a Monday
in London gets Friday's). HF's list of day D fills during D in New York time, so east of New York the local
yesterday is often not complete yet: Tokyo at 09:00 on Wednesday is 19:00 on Tuesday in New York, so it posts
Monday's list, not Tuesday's half-filled one; Tokyo on Monday and on Tuesday both get Friday's, and the second
run finds it posted and stays quiet. `digest_weekdays` tells the scheduler on which local days to fire so that
every wanted list is normally posted once; `pending_days` makes a scheduled run catch up on a list its fire days
skipped anyway (the gap to New York shifts by an hour in the weeks only one of the two zones is on DST).

Filters (`channel.filters`, all optional) are applied fuzzily with rapidfuzz; a paper must satisfy every kind
of filter that is set, and any one entry of it:
- `keywords`: partial_ratio >= 85 against title + abstract + HF keywords (words under 4 letters must match
  as a whole word, since fuzzy matching of "RL" or "GAN" hits everything);
- `authors`: a one-word query against each word of each name (ratio >= 85: "Hintn" finds "Geoffrey Hinton",
  "Anna" does not find "Hannah"), a longer one against the whole name (token_sort_ratio >= 85);
- `topics`: partial_ratio >= 85 against HF keywords and the title, or an exact arXiv category (`cs.CL`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz, utils

from bot import blocks
from bot.config import Settings
from bot.sources.hf import newest_complete_day
from storage.models import Channel

KEYWORD_SCORE, AUTHOR_SCORE, TOPIC_SCORE = 85, 85, 85
SHORT_WORD = 4


@dataclass(frozen=True)
class Prefs:
    """A channel's effective digest settings: its own where set, the deployment's otherwise."""

    team_id: str
    channel_id: str
    size: int
    min_upvotes: int | None = None
    include_weekends: bool = False
    post_empty_notice: bool = False
    filters: dict[str, list[str]] = field(default_factory=dict)
    digest_time: str = "09:00"
    timezone: str = "UTC"


def prefs_for(
    channel: Channel | None, *, settings: Settings, team_id: str, channel_id: str, size: int | None = None
) -> Prefs:
    """Merge a channel's stored settings over the deployment defaults; `size` (e.g. --size) wins over both."""
    if channel is None:
        return Prefs(
            team_id,
            channel_id,
            size or settings.digest_size,
            digest_time=settings.digest_time,
            timezone=settings.timezone,
        )
    return Prefs(
        team_id=team_id,
        channel_id=channel_id,
        size=size or channel.digest_size or settings.digest_size,
        min_upvotes=channel.min_upvotes,
        include_weekends=bool(channel.include_weekends),
        post_empty_notice=bool(channel.post_empty_notice),
        filters={k: [str(v) for v in vs] for k, vs in (channel.filters or {}).items() if isinstance(vs, list)},
        digest_time=channel.digest_time or settings.digest_time,
        timezone=channel.timezone or settings.timezone,
    )


# ---- which day -------------------------------------------------------------------------------------------


def weekday_adjusted(day: date, *, include_weekends: bool) -> date:
    """The list a digest posts for `day`: weekend lists are skipped unless wanted (Monday gets Friday's)."""
    while not include_weekends and day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def newest_day(now: datetime, prefs: Prefs) -> date:
    """The list a run at `now` posts: the earlier of the channel's local yesterday and the newest complete list
    (yesterday in New York), weekend lists skipped unless wanted. Naive datetimes are taken as UTC.

    `newest_day(datetime(2026, 11, 25, 0, tzinfo=UTC), Prefs("T", "C", 5, timezone="Asia/Tokyo"))` is
    2026-11-23: Wednesday 09:00 in Tokyo is Tuesday 19:00 in New York, so Tuesday's list is still filling
    and Monday's is the newest complete one. In London at 09:00 on Wednesday (04:00 in New York) it is Tuesday's.
    """
    aware = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    local_yesterday = aware.astimezone(ZoneInfo(prefs.timezone)).date() - timedelta(days=1)
    day = min(local_yesterday, newest_complete_day(aware))
    return weekday_adjusted(day, include_weekends=prefs.include_weekends)


CATCH_UP = timedelta(days=7)  # a new or long-idle channel gets the newest list, not a week-long backlog


def pending_days(now: datetime, prefs: Prefs, last: date | None) -> list[date]:
    """The lists a scheduled run at `now` posts, oldest first: every wanted list after `last` (the newest day the
    channel already has a run for, at most `newest_day`) up to `newest_day`; only the newest one when the channel
    has no run yet or `last` is more than a week older. Empty when the newest list already has a run.

    A London 04:30 channel fires Monday and Wednesday to Saturday (04:30 is New York's evening before). In the
    week only the US is on DST it is 00:30 in New York, so Monday 2026-03-09 posts Friday's list, no fire gets
    Monday's, and Wednesday's fire posts it before Tuesday's:
    `pending_days(datetime(2026, 3, 11, 4, 30, tzinfo=UTC), Prefs("T", "C", 5, timezone="Europe/London"),
    date(2026, 3, 6))` is `[date(2026, 3, 9), date(2026, 3, 10)]`.
    """
    newest = newest_day(now, prefs)
    if last is None or last < newest - CATCH_UP:
        return [newest]
    span = (last + timedelta(days=n) for n in range(1, (newest - last).days + 1))
    return [day for day in span if weekday_adjusted(day, include_weekends=prefs.include_weekends) == day]


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A winter and a summer week: the gap between a channel's clock and New York's can differ by an hour between
# the two zones' DST dates, which can move the newest complete list by a day.
_REFERENCE_MONDAYS = (date(2026, 1, 12), date(2026, 7, 13))
_DROP_ORDER = (6, 5, 4, 3, 2, 1, 0)  # weekend fires go first, then the later weekdays: Monday's post is kept


def digest_weekdays(prefs: Prefs) -> str:
    """The local days (a cron `day_of_week`) on which a channel's digest fires so every wanted list is posted once.

    Every day when the channel wants weekend lists. Otherwise the fewest days that still post every weekday's
    list: Monday to Friday in London; in Tokyo at 09:00 Monday gets Friday's list, Tuesday would get it again,
    and Thursday's is complete only on Saturday morning (Friday evening in New York), so
    `digest_weekdays(Prefs("T", "C", 5, timezone="Asia/Tokyo"))` is "mon,wed,thu,fri,sat" and
    `digest_weekdays(Prefs("T", "C", 5, timezone="Europe/London"))` is "mon,tue,wed,thu,fri".
    """
    if prefs.include_weekends:
        return "*"
    hour, minute = (int(part) for part in prefs.digest_time.split(":"))
    at = time(hour, minute, tzinfo=ZoneInfo(prefs.timezone))
    days = set(range(7))
    for day in _DROP_ORDER:
        if all(_covers(prefs, monday, days - {day}, at) for monday in _REFERENCE_MONDAYS):
            days.discard(day)
    return ",".join(WEEKDAYS[d] for d in sorted(days))


def _covers(prefs: Prefs, monday: date, days: set[int], at: time) -> bool:
    """Whether firing on `days` of three weeks from `monday` posts every weekday list of the middle week."""
    fires = [monday + timedelta(weeks=w, days=d) for w in range(3) for d in days]
    posted = {newest_day(datetime.combine(day, at), prefs) for day in fires}
    return all(monday + timedelta(weeks=1, days=d) in posted for d in range(5))


# ---- which papers ----------------------------------------------------------------------------------------


class PaperLike(blocks.PaperLike, Protocol):
    """What choosing reads besides what the builders read: keywords and categories."""

    @property
    def ai_keywords(self) -> Sequence[str] | None: ...
    @property
    def categories(self) -> Sequence[str] | None: ...


def rank(papers: Sequence[PaperLike]) -> list[PaperLike]:
    """Most HF upvotes first; unknown upvotes last; ties keep the source's order (a stable sort)."""
    return sorted(papers, key=lambda p: (p.hf_upvotes is None, -(p.hf_upvotes or 0)))


def _fuzzy_in(needle: str, haystack: str, score: int) -> bool:
    needle, haystack = utils.default_process(needle), utils.default_process(haystack)
    if not needle or not haystack:
        return False
    if len(needle) < SHORT_WORD:
        return re.search(rf"\b{re.escape(needle)}\b", haystack) is not None
    return fuzz.partial_ratio(needle, haystack, score_cutoff=score) > 0


def _author_is(query: str, name: str) -> bool:
    query, name = utils.default_process(query), utils.default_process(name)
    if not query or not name:
        return False
    if " " in query:
        return fuzz.token_sort_ratio(query, name) >= AUTHOR_SCORE
    if len(query) < SHORT_WORD:
        return query in name.split()
    return any(fuzz.ratio(query, word) >= AUTHOR_SCORE for word in name.split())


def matches(paper: PaperLike, filters: dict[str, list[str]]) -> bool:
    """True when the paper satisfies every kind of filter that is set (see the module docstring)."""
    keywords = " ".join(paper.ai_keywords or [])
    text = f"{paper.title} {paper.abstract or ''} {keywords}"
    checks: dict[str, Callable[[str], bool]] = {
        "keywords": lambda q: _fuzzy_in(q, text, KEYWORD_SCORE),
        "authors": lambda q: any(_author_is(q, a) for a in paper.authors or []),
        "topics": lambda q: (
            q.lower() in {c.lower() for c in paper.categories or []}
            or _fuzzy_in(q, f"{keywords} {paper.title}", TOPIC_SCORE)
        ),
    }
    for kind, check in checks.items():
        wanted = [q for q in filters.get(kind, []) if q.strip()]
        if wanted and not any(check(q) for q in wanted):
            return False
    return True


def choose(papers: Sequence[PaperLike], *, prefs: Prefs, posted: set[str]) -> list[PaperLike]:
    """The channel's top papers: ranked, above its minimum upvotes, matching its filters, new to it."""
    chosen = []
    for paper in rank(papers):
        if paper.arxiv_id in posted:
            continue
        if prefs.min_upvotes is not None and (paper.hf_upvotes or 0) < prefs.min_upvotes:
            continue
        if matches(paper, prefs.filters):
            chosen.append(paper)
        if len(chosen) >= prefs.size:
            break
    return chosen
