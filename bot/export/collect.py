"""Reading an export from the database and writing it: the papers in order, a batch at a time
(storage/export.py), rendered into a file in one read transaction."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from itertools import groupby, islice
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.export.records import ExportOptions, PaperExport, PostRef
from bot.export.render import RENDERERS
from storage import export as store
from storage.tally import Scope, Tally, count_activity

BATCH = 500  # papers per round of aggregate queries


def since_ts(day: date | None, timezone: str) -> str | None:
    """The smallest Slack ts posted on or after the start of `day` in `timezone`, as text that compares with
    stored ts values (ten digits of seconds): `since_ts(date(2025, 11, 26), "UTC") == "1764115200"`. Days
    before Slack's ts had ten digits (2001-09-09) filter nothing."""
    if day is None:
        return None
    seconds = int(datetime.combine(day, time(), tzinfo=ZoneInfo(timezone)).timestamp())
    if seconds >= 10**10:  # past 2286-11-20 an 11-digit threshold would sort before every stored ts
        return "9999999999.999999"
    return f"{seconds:010d}" if seconds >= 10**9 else None


def collect(
    session: Session, options: ExportOptions, *, vote_emoji: Iterable[str], timezone: str, batch: int = BATCH
) -> Iterator[PaperExport]:
    """The exported papers in order, read `batch` papers at a time (four aggregate queries a batch)."""
    scope = Scope(
        team_id=options.team_id,
        channel_ids=options.channel_ids,
        since_ts=since_ts(options.since, timezone),
        public_only=options.public_only,
        here=options.here,
    )
    emoji = tuple(vote_emoji)
    by_paper = groupby(store.stream_posts(session=session, scope=scope), key=lambda post: post.arxiv_id)
    while chunk := [(arxiv_id, list(posts)) for arxiv_id, posts in islice(by_paper, batch)]:
        facts = store.paper_facts(session=session, arxiv_ids=[arxiv_id for arxiv_id, _ in chunk])
        batch_posts = [p for _, posts in chunk for p in posts]
        counts = count_activity(
            session=session,
            scope=scope,
            arxiv_ids=[arxiv_id for arxiv_id, _ in chunk],
            vote_emoji=emoji,
            threads=store.threads_of(batch_posts),
        )
        for arxiv_id, posts in chunk:
            paper = _assemble(facts[arxiv_id], counts[arxiv_id], posts)
            if paper.votes >= options.min_votes:
                yield paper


def _assemble(facts: Any, tally: Tally, posts: list[store.PostRow]) -> PaperExport:
    authors = facts.authors if isinstance(facts.authors, list) else []
    reactions = dict(sorted(tally.reactions.items(), key=lambda kv: (-kv[1], kv[0])))
    return PaperExport(
        arxiv_id=facts.arxiv_id,
        title=" ".join((facts.title or "").split()),
        authors=[" ".join(str(a).split()) for a in authors if a],
        published=facts.published,
        hf_upvotes=facts.hf_upvotes,
        votes=tally.votes,
        reactions=reactions,
        replies=tally.replies,
        posts=[PostRef(team=p.team_id, channel=p.channel_id, ts=p.ts, kind=p.kind, deleted=p.deleted) for p in posts],
        primary_category=facts.primary_category,
        doi=facts.doi,
        journal_ref=facts.journal_ref,
    )


class Counted:
    """Passes papers through and counts them (for the one-line summary)."""

    def __init__(self, papers: Iterable[PaperExport]) -> None:
        self.papers, self.count = papers, 0

    def __iter__(self) -> Iterator[PaperExport]:
        for paper in self.papers:
            self.count += 1
            yield paper


def write_export(
    sessions: sessionmaker[Session],
    options: ExportOptions,
    out: TextIO,
    *,
    vote_emoji: Iterable[str],
    timezone: str,
    batch: int = BATCH,
) -> int:
    """Write the export in `options.fmt` to `out` in one read transaction; the number of papers written."""
    with sessions.begin() as session:
        papers = Counted(collect(session, options, vote_emoji=vote_emoji, timezone=timezone, batch=batch))
        for text in RENDERERS[options.fmt](papers):
            out.write(text)
    return papers.count


class RefusedOutput(ValueError):
    """The export's target is not a file paperbot will write: a symbolic link, a directory, a device."""


def _existing_mode(path: Path) -> int | None:
    """The permissions of the regular file at `path` (not following a link), None when there is none; a link or
    anything else that is not a regular file is RefusedOutput: a link planted where the export goes would have
    it written (world-readable, or over another file) wherever the link points."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise RefusedOutput(f"it is a symbolic link (to {os.readlink(path)}); give the path of the file itself")
    if not stat.S_ISREG(info.st_mode):
        raise RefusedOutput("it is not a regular file")
    return stat.S_IMODE(info.st_mode)


@contextmanager
def atomic_file(path: Path) -> Iterator[TextIO]:
    """A text file that replaces `path` only when the block finishes: a failure leaves `path` as it was and no
    temporary file behind. A new file is 0600 (an export holds the team's discussion); an existing file keeps its
    permissions. A symbolic link at `path` is refused (RefusedOutput), never followed; the file is written under
    a new name (O_EXCL, 0600) and renamed over `path`, so a link planted meanwhile is replaced, not written
    through."""
    path = path.absolute()
    mode = _existing_mode(path)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with open(handle, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o600 if mode is None else mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
