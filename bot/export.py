"""`paperbot export` and `/papers export`: what the team has read, voted on and discussed, as JSON, CSV or BibTeX.

An export is the set of posts that match the options (a team, some channels, posted since a day), grouped by
paper: one record per paper that has at least one such post, papers ordered by their first post (its Slack
timestamp, then the arXiv id). A paper's `votes`, `reactions` and `replies` count the activity on exactly the
posts listed with it. Records stream from the database a batch at a time (storage/export.py), and the renderers
below are generators of text, so the command line writes a file of any size in bounded memory.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from itertools import groupby, islice
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session, sessionmaker

from bot.deps import Deps
from bot.latex import bibtex_name, latex_text
from storage import export as store
from storage.text import first_line

FORMATS = ("json", "csv", "bibtex")
EXTENSIONS = {"json": "json", "csv": "csv", "bibtex": "bib"}
BATCH = 500  # papers per round of aggregate queries
ARXIV_ABS = "https://arxiv.org/abs/"


@dataclass(frozen=True)
class ExportOptions:
    """What to export: the format and the filters of `paperbot export` (empty channels: every channel)."""

    fmt: str = "json"
    team_id: str | None = None
    channel_ids: tuple[str, ...] = ()
    since: date | None = None
    min_votes: int = 0


@dataclass(frozen=True)
class PostRef:
    """One Slack message about the paper."""

    team: str
    channel: str
    ts: str
    kind: str  # digest | share | lookup


@dataclass
class PaperExport:
    """One exported paper: its facts and what the team did with it."""

    arxiv_id: str
    title: str
    authors: list[str]
    published: date | None
    hf_upvotes: int | None
    votes: int
    reactions: dict[str, int]
    replies: int
    posts: list[PostRef]
    primary_category: str | None = None
    doi: str | None = None
    journal_ref: str | None = None


# ---- reading --------------------------------------------------------------------------------------------------


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
    scope = store.Scope(
        team_id=options.team_id, channel_ids=options.channel_ids, since_ts=since_ts(options.since, timezone)
    )
    emoji = tuple(vote_emoji)
    by_paper = groupby(store.stream_posts(session=session, scope=scope), key=lambda post: post.arxiv_id)
    while chunk := [(arxiv_id, list(posts)) for arxiv_id, posts in islice(by_paper, batch)]:
        facts = store.paper_facts(session=session, arxiv_ids=[arxiv_id for arxiv_id, _ in chunk])
        counts = store.tallies(
            session=session, scope=scope, posts=[p for _, posts in chunk for p in posts], vote_emoji=emoji
        )
        for arxiv_id, posts in chunk:
            paper = _assemble(facts[arxiv_id], counts[arxiv_id], posts)
            if paper.votes >= options.min_votes:
                yield paper


def _assemble(facts: Any, tally: store.Tally, posts: list[store.PostRow]) -> PaperExport:
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
        posts=[PostRef(team=p.team_id, channel=p.channel_id, ts=p.ts, kind=p.kind) for p in posts],
        primary_category=facts.primary_category,
        doi=facts.doi,
        journal_ref=facts.journal_ref,
    )


# ---- rendering (pure) ------------------------------------------------------------------------------------------


def json_record(paper: PaperExport) -> dict[str, Any]:
    """The JSON shape of one paper, exactly as docs/export.md describes it."""
    return {
        "arxiv_id": paper.arxiv_id,
        "title": paper.title,
        "authors": paper.authors,
        "published": paper.published.isoformat() if paper.published else None,
        "hf_upvotes": paper.hf_upvotes,
        "votes": paper.votes,
        "reactions": paper.reactions,
        "replies": paper.replies,
        "posts": [{"team": p.team, "channel": p.channel, "ts": p.ts, "kind": p.kind} for p in paper.posts],
    }


def render_json(papers: Iterable[PaperExport]) -> Iterator[str]:
    """A JSON array, one paper per line, produced as it goes."""
    yield "["
    for i, paper in enumerate(papers):
        yield ("\n" if i == 0 else ",\n") + json.dumps(json_record(paper), ensure_ascii=False)
    yield "\n]\n"


CSV_COLUMNS = (
    "arxiv_id",
    "title",
    "authors",
    "published",
    "primary_category",
    "hf_upvotes",
    "votes",
    "reactions",
    "replies",
    "posts",
    "first_posted",
    "teams",
    "channels",
    "kinds",
    "url",
)


def csv_row(paper: PaperExport) -> list[str]:
    """One paper as the CSV_COLUMNS: lists joined with "; " (authors) or spaces (ids), reactions as
    `:+1: 2; :fire: 1`, the first post's time in UTC."""

    def distinct(values: Iterable[str]) -> str:
        return " ".join(dict.fromkeys(values))

    return [
        paper.arxiv_id,
        spreadsheet_safe(paper.title),
        spreadsheet_safe("; ".join(paper.authors)),
        paper.published.isoformat() if paper.published else "",
        paper.primary_category or "",
        "" if paper.hf_upvotes is None else str(paper.hf_upvotes),
        str(paper.votes),
        "; ".join(f":{emoji}: {n}" for emoji, n in paper.reactions.items()),
        str(paper.replies),
        str(len(paper.posts)),
        ts_to_utc(paper.posts[0].ts) if paper.posts else "",
        distinct(p.team for p in paper.posts),
        distinct(p.channel for p in paper.posts),
        distinct(p.kind for p in paper.posts),
        abs_url(paper.arxiv_id),
    ]


def render_csv(papers: Iterable[PaperExport]) -> Iterator[str]:
    """CSV (RFC 4180: comma, double quotes, CRLF) with a header row, one row per paper."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush(row: Iterable[str]) -> str:
        writer.writerow(row)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield flush(CSV_COLUMNS)
    for paper in papers:
        yield flush(csv_row(paper))


def spreadsheet_safe(text: str) -> str:
    """Paper text a spreadsheet would run as a formula gets a leading apostrophe (OWASP's CSV injection
    advice): `spreadsheet_safe("=1+1") == "'=1+1"`."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def ts_to_utc(ts: str) -> str:
    """A Slack ts as ISO 8601 UTC, or "" if it is not a ts: `ts_to_utc("1764115200.000100") ==
    "2025-11-26T00:00:00Z"`."""
    try:
        return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        return ""


def abs_url(arxiv_id: str) -> str:
    """The paper's arXiv abstract page."""
    return ARXIV_ABS + quote(arxiv_id, safe="/.")


def bibtex_key(arxiv_id: str) -> str:
    """A citation key that depends on the arXiv id alone, so it is unique and never changes between exports:
    `bibtex_key("2410.13732") == "arxiv_2410.13732"`, `bibtex_key("hep-th/9901001") == "arxiv_hep-th_9901001"`."""
    return "arxiv_" + re.sub(r"[^A-Za-z0-9.\-]", "_", arxiv_id)


def bibtex_year(paper: PaperExport) -> int | None:
    """The publication year, else the year the arXiv id encodes: `2410.13732` is 2024, `hep-th/9901001` 1999."""
    if paper.published:
        return paper.published.year
    match = re.search(r"(?:^|/)(\d{2})(\d{2})[.\d]", paper.arxiv_id)
    if not match:
        return None
    yy = int(match.group(1))
    return 1900 + yy if "/" in paper.arxiv_id and yy >= 91 else 2000 + yy


def bibtex_entry(paper: PaperExport) -> str:
    """One @article (when a journal reference is known) or @misc entry, every value escaped for BibTeX."""
    year = bibtex_year(paper)
    fields = [
        ("title", "{" + latex_text(paper.title or paper.arxiv_id) + "}"),  # inner braces keep its capitals
        ("author", " and ".join(bibtex_name(a) for a in paper.authors)),
        ("year", str(year) if year else ""),
        ("eprint", re.sub(r"[^A-Za-z0-9./\-]", "", paper.arxiv_id)),
        ("archivePrefix", "arXiv"),
        ("primaryClass", re.sub(r"[^A-Za-z0-9.\-]", "", paper.primary_category or "")),
        ("url", abs_url(paper.arxiv_id)),
        ("doi", re.sub(r"[\s{}\\%#]", "", paper.doi or "")),
        ("journal", latex_text(paper.journal_ref or "")),
    ]
    kind = "article" if paper.journal_ref else "misc"
    body = ",\n".join(f"  {name:<13} = {{{value}}}" for name, value in fields if value)
    return f"@{kind}{{{bibtex_key(paper.arxiv_id)},\n{body}\n}}\n"


def render_bibtex(papers: Iterable[PaperExport]) -> Iterator[str]:
    """One BibTeX entry per paper, a blank line between entries."""
    for i, paper in enumerate(papers):
        yield ("" if i == 0 else "\n") + bibtex_entry(paper)


RENDERERS: dict[str, Callable[[Iterable[PaperExport]], Iterator[str]]] = {
    "json": render_json,
    "csv": render_csv,
    "bibtex": render_bibtex,
}


# ---- writing ---------------------------------------------------------------------------------------------------


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


@contextmanager
def atomic_file(path: Path) -> Iterator[TextIO]:
    """A text file that replaces `path` only when the block finishes: a failure leaves `path` as it was and no
    temporary file behind. A symlink is followed (its target is replaced); an existing file keeps its
    permissions (an export locked to 0600 stays private), a new one gets 0666 minus the umask."""
    path = path.resolve()
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with open(handle, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# ---- /papers export -------------------------------------------------------------------------------------------


class ExportUsage(ValueError):
    """A `/papers export` argument it cannot take; the message names it."""


@dataclass(frozen=True)
class SlackRequest:
    """`/papers export [json|csv|bibtex] [since:YYYY-MM-DD] [min-votes:N] [all]`, parsed."""

    fmt: str = "json"
    since: date | None = None
    min_votes: int = 0
    all_channels: bool = False


_OPTION_NAMES = {"fmt": "a format", "since": "`since:`", "min_votes": "`min-votes:`", "all_channels": "`all`"}


def parse_command(args: str) -> SlackRequest:
    """The words after `/papers export`, in any order, each at most once:
    `parse_command("csv since:2025-11-01") == SlackRequest(fmt="csv", since=date(2025, 11, 1))`."""
    values: dict[str, Any] = {}
    for word in args.split():
        name, value = _option(word)
        if name in values:
            raise ExportUsage(f"Give {_OPTION_NAMES[name]} once; `{word}` repeats it.")
        values[name] = value
    return SlackRequest(**values)


def _option(word: str) -> tuple[str, Any]:
    lower = word.lower()
    if lower in FORMATS:
        return "fmt", lower
    if lower == "all":
        return "all_channels", True
    key, colon, value = lower.partition(":")
    if colon and key == "since":
        try:
            return "since", date.fromisoformat(value)
        except ValueError:
            raise ExportUsage(f"`since:` takes a date written YYYY-MM-DD, not `{word[6:]}`.") from None
    if colon and key in ("min-votes", "min_votes"):
        if not (value.isascii() and value.isdigit()):  # "²".isdigit() is True, but int() refuses it
            raise ExportUsage(f"`min-votes:` takes a whole number from 0 up, not `{word[len(key) + 1 :]}`.")
        return "min_votes", int(value)
    raise ExportUsage(f"`{word}` is not an export format ({', '.join(FORMATS)}) or option.")


@dataclass(frozen=True)
class SlackExport:
    """What `/papers export` did: how many papers, the file, and where it went (`channel`, `dm`, `nowhere`
    when both uploads failed, `empty` when nothing matched and nothing was uploaded)."""

    count: int
    fmt: str
    filename: str
    where: str
    error: str | None = None


def export_filename(fmt: str, *, scope: str, today: date) -> str:
    """`export_filename("bibtex", scope="C0001", today=date(2025, 11, 30)) == "paperbot-C0001-2025-11-30.bib"`."""
    return f"paperbot-{re.sub(r'[^A-Za-z0-9_-]', '', scope)}-{today.isoformat()}.{EXTENSIONS[fmt]}"


def export_to_slack(
    deps: Deps, client: WebClient, *, team_id: str, channel_id: str, user_id: str, request: SlackRequest, comment: str
) -> SlackExport:
    """Export the team's papers (this channel's, or the workspace's with `all`) and upload the file to the
    channel; if Slack refuses that (e.g. the bot is not a member), to the person in a DM. The file is built in
    memory: slack_sdk reads an upload whole anyway."""
    settings = deps.settings
    options = ExportOptions(
        fmt=request.fmt,
        team_id=team_id,
        since=request.since,
        min_votes=request.min_votes,
        channel_ids=() if request.all_channels else (channel_id,),
    )
    buffer = io.StringIO()
    count = write_export(deps.sessions, options, buffer, vote_emoji=settings.vote_emoji, timezone=settings.timezone)
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    filename = export_filename(request.fmt, scope=team_id if request.all_channels else channel_id, today=today)
    if count == 0:
        return SlackExport(count, request.fmt, filename, "empty")
    title = f"paperbot export: {count} paper{'' if count == 1 else 's'}"

    def upload(channel: str) -> None:
        client.files_upload_v2(
            channel=channel, content=buffer.getvalue(), filename=filename, title=title, initial_comment=comment
        )

    try:
        upload(channel_id)
        return SlackExport(count, request.fmt, filename, "channel")
    except (SlackClientError, OSError) as exc:
        refused = _slack_error(exc)
    try:
        upload(client.conversations_open(users=user_id)["channel"]["id"])
        return SlackExport(count, request.fmt, filename, "dm", refused)
    except (SlackClientError, OSError) as exc:
        return SlackExport(count, request.fmt, filename, "nowhere", f"{refused}; in a DM: {_slack_error(exc)}")


def _slack_error(exc: BaseException) -> str:
    """Slack's error code (`not_in_channel`), or the first line of what went wrong."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "an error")
    return first_line(exc)
