"""Which day's list and which papers: load a day's Hugging Face list (or the stored one, or the sample), store it,
choose a channel's papers, and preview what a digest would post."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from bot import blocks
from bot.choose import Prefs, choose, newest_day
from bot.config import Settings
from bot.digest.context import PREVIEW_CHANNEL, DigestContext, DigestStatus, Outcome, load_prefs
from bot.enrich import enrich_from_arxiv
from bot.sources.hf import HFClient, SourceError
from bot.sources.sample import sample_records
from storage import digests as runs
from storage.papers import daily_papers, get_papers, upsert_papers
from storage.posts import posted_arxiv_ids, run_posts
from storage.states import RunStatus
from storage.text import first_line

log = logging.getLogger(__name__)


@dataclass
class DayList:
    """The papers on one day's Hugging Face list, where they came from, and a note for people if needed."""

    day: date
    papers: list[Any]
    source: str  # hf | sample | database
    note: str | None = None


def _fetch_hf(settings: Settings, day: date, *, quick: bool) -> list[Any]:
    # A dry run offline should fall back to the sample in a second or two, not after a long retry ladder.
    timeout = min(settings.http_timeout, 3.0) if quick else settings.http_timeout
    with HFClient(settings, timeout=timeout, retries=0 if quick else 3) as client:
        # Stamped with the list's day: an item's own publishedAt may fall on a neighbouring UTC date.
        records = list(client.daily_records(day))
    # HF lists carry no arXiv categories, which a channel's `topics` filter matches: one quick arXiv request per
    # 100 papers fills them (and DOI, journal ref); arXiv down costs one warning line, never the digest.
    if records and settings.arxiv_enrich:
        enrich_from_arxiv(settings, records, quick=True)
    return records


def load_day(
    *, settings: Settings, sessions: sessionmaker[Session], day: date, source: str = "hf", sample_fallback: bool = False
) -> DayList:
    """The day's papers from Hugging Face (or the bundled sample); offline, the stored list, then the sample
    if `sample_fallback` (dry runs only: a real post never uses the sample unless asked)."""
    if source == "sample":
        return DayList(day, _sample(day), "sample", "Using the bundled sample papers, not live data.")
    try:
        return DayList(day, _fetch_hf(settings, day, quick=sample_fallback), "hf")
    except (SourceError, httpx.HTTPError) as exc:  # HF down or answering nonsense; a bug is not caught here
        # A dry run's friendly note already says it; a real run's log must.
        log.log(
            logging.DEBUG if sample_fallback else logging.WARNING,
            "Hugging Face daily list of %s unavailable: %s",
            day,
            first_line(exc),
        )
        detail = first_line(exc)
    reason = f"Hugging Face is unreachable at {settings.hf_api_url}"
    with sessions.begin() as session:
        stored = daily_papers(session=session, day=day)
        session.expunge_all()
    if stored:
        return DayList(day, stored, "database", f"{reason}; using the {len(stored)} papers stored for {day}.")
    if sample_fallback:
        return DayList(
            day,
            _sample(day),
            "sample",
            f"Offline: {reason}, so this preview shows the bundled sample papers (a real post never uses them).",
        )
    raise SourceError(f"{reason} ({detail}), and no papers of {day} are stored: try again later")


def _sample(day: date) -> list[Any]:
    return list(sample_records(day))


def list_of_day(ctx: DigestContext, day: date, source: str, *, sample_fallback: bool) -> DayList:
    """`day`'s list from `source`, loaded once per digest run however many channels ask for it."""
    key = (day, f"{source}:{sample_fallback}")
    with ctx.day_lock:  # held while fetching, so parallel channels wait for one fetch instead of each doing it
        if key not in ctx.day_cache:
            ctx.day_cache[key] = load_day(
                settings=ctx.settings, sessions=ctx.sessions, day=day, source=source, sample_fallback=sample_fallback
            )
        day_list: DayList = ctx.day_cache[key]  # the cache is typed Any: context.py cannot import DayList
        return day_list


def _postable(papers: Sequence[Any]) -> list[Any]:
    # A paper Slack would reject must not block the rest of the digest: it is left out of the plan.
    good = []
    for paper in papers:
        try:
            blocks.validate(blocks.paper_message(paper, rank=1))
            good.append(paper)
        except ValueError as exc:
            log.warning("leaving %s out of the digest: %s", paper.arxiv_id, exc)
    return good


def plan_papers(ctx: DigestContext, prefs: Prefs, day_list: DayList, *, store: bool) -> list[Any]:
    """Store the day's papers (real runs) and choose the channel's, excluding those posted there before."""
    with ctx.sessions.begin() as session:
        if store and day_list.source == "sample":
            # Posts need the papers' rows, but the sample is not that day's list: stored without a daily date
            # or an upvote snapshot, a later real run offline never mistakes it for the stored list of the day.
            upsert_papers(session=session, records=[replace(p, daily_date=None) for p in day_list.papers])
        elif store and day_list.source != "database":
            upsert_papers(session=session, records=day_list.papers, seen_on=day_list.day)
        papers = day_list.papers
        if day_list.source == "hf":
            papers = _with_stored_categories(session, papers)
        ids = [p.arxiv_id for p in papers]
        posted = posted_arxiv_ids(session=session, team_id=prefs.team_id, channel_id=prefs.channel_id, arxiv_ids=ids)
    return _postable(choose(papers, prefs=prefs, posted=posted))


def _with_stored_categories(session: Session, records: list[Any]) -> list[Any]:
    """`records`, those without arXiv categories given the ones stored earlier (by `paperbot fetch`, an import or
    an earlier digest), so a `topics` filter matches even when arXiv was not asked or did not answer today."""
    lacking = [r.arxiv_id for r in records if not r.categories]
    stored = get_papers(session=session, arxiv_ids=lacking) if lacking else {}
    return [
        replace(r, categories=list(known.categories), primary_category=known.primary_category)
        if not r.categories and (known := stored.get(r.arxiv_id)) is not None and known.categories
        else r
        for r in records
    ]


def preview_digest(
    ctx: DigestContext,
    *,
    team_id: str,
    channel_id: str,
    day: date | None = None,
    size: int | None = None,
    source: str = "hf",
) -> Outcome:
    """What a digest would post (the same payload builders), without claiming, storing or posting anything."""
    prefs = load_prefs(ctx, team_id=team_id, channel_id=channel_id, size=size)
    day = day or newest_day(ctx.clock(), prefs)
    finished = finished_run(ctx, prefs, day)
    if finished is not None:
        return finished
    day_list = list_of_day(ctx, day, source, sample_fallback=source == "hf")
    chosen = plan_papers(ctx, prefs, day_list, store=False)
    if not day_list.papers:
        return Outcome(
            channel_id, day, DigestStatus.NOT_READY, f"Hugging Face has no papers for {day} yet.", note=day_list.note
        )
    # The same arguments a real run hands chat.postMessage, but for the run id the claim would assign.
    if chosen:
        header = blocks.digest_header(
            day=day, count=len(chosen), total=len(day_list.papers), sample=day_list.source == "sample"
        )
        payloads = [blocks.digest_post(channel_id, header, run_id=None, arxiv_id=None)]
        payloads += [
            blocks.digest_post(channel_id, blocks.paper_message(p, rank=i), run_id=None, arxiv_id=p.arxiv_id)
            for i, p in enumerate(chosen, 1)
        ]
    elif prefs.post_empty_notice:
        payloads = [blocks.digest_post(channel_id, blocks.empty_digest(day=day), run_id=None, arxiv_id=None)]
    else:
        payloads = []
    where = "" if channel_id == PREVIEW_CHANNEL else f" to #{channel_id}"
    of = "of the bundled sample" if day_list.source == "sample" else f"of {day}"
    message = f"{len(chosen)} of {len(day_list.papers)} papers {of} would be posted{where}."
    return Outcome(
        channel_id, day, DigestStatus.PREVIEW, message, planned=len(chosen), payloads=payloads, note=day_list.note
    )


def finished_run(ctx: DigestContext, prefs: Prefs, day: date) -> Outcome | None:
    """An `already_done` outcome when the channel's digest of `day` was posted (or found empty) before."""
    with ctx.sessions.begin() as session:
        run = runs.get_run(session=session, team_id=prefs.team_id, channel_id=prefs.channel_id, day=day)
        if run is None or run.status not in runs.FINISHED:
            return None
        count = len(run_posts(session=session, digest_run_id=run.id))
    what = f"{count} paper{'' if count == 1 else 's'}" if run.status == RunStatus.DONE else "no papers"
    return Outcome(
        prefs.channel_id,
        day,
        DigestStatus.ALREADY_DONE,
        f"The digest of {day} was already posted to #{prefs.channel_id} ({what}); nothing posted again.",
    )
