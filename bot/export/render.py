"""The export's renderers (pure): papers to JSON, CSV or BibTeX text, as generators, so a file of any size is
written in bounded memory."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from bot.export.records import PaperExport, PostRef
from bot.latex import bibtex_name, latex_text
from bot.links import abs_url


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
        "posts": [_post_record(p) for p in paper.posts],
    }


def _post_record(post: PostRef) -> dict[str, Any]:
    """One post of a paper; a post deleted in Slack says so (`"deleted": true`) and nothing on it is counted."""
    record: dict[str, Any] = {"team": post.team, "channel": post.channel, "ts": post.ts, "kind": post.kind}
    if post.deleted:
        record["deleted"] = True
    return record


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
    "deleted_posts",
)


def csv_row(paper: PaperExport) -> list[str]:
    """One paper as the CSV_COLUMNS: lists joined with "; " (authors) or spaces (ids), reactions as
    `:+1: 2; :fire: 1`, the first post's time in UTC; `posts` counts deleted posts too, `deleted_posts` those."""

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
        str(sum(p.deleted for p in paper.posts)),
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
