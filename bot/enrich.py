"""arXiv's fields for papers Hugging Face lists: what HF records lack (categories, comments, journal reference,
DOI, ...) filled from arXiv, one `id_list` request per 100 papers and never for a paper stored with categories
already; and one paper by id, asked quickly (Hugging Face, else arXiv), for a shared link.

arXiv being down costs the enrichment only: one warning line, and the papers go on without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import httpx
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.sources.arxiv import BATCH, ArxivClient
from bot.sources.hf import HFClient, SourceError
from storage.papers import ids_with_categories
from storage.records import PaperRecord
from storage.text import first_line

log = logging.getLogger(__name__)

# The fields arXiv fills when a record lacks them. The title is HF's (always present) and stays.
ENRICHED_FIELDS = (
    "abstract",
    "authors",
    "version",
    "published",
    "updated",
    "categories",
    "primary_category",
    "comments",
    "journal_ref",
    "doi",
)
QUICK_TIMEOUT = 5.0  # seconds: `quick=True` callers (a digest about to post) must not wait long for arXiv


def enrich_from_arxiv(
    settings: Settings,
    records: Sequence[PaperRecord],
    *,
    quick: bool = False,
    sessions: sessionmaker[Session] | None = None,
) -> int:
    """Fill what `records` lack (categories, primary category, comments, journal ref, DOI, and the abstract,
    authors, version and dates when missing) from arXiv, in place; returns how many records arXiv enriched.

    Only records without categories are asked about, and with `sessions` not those stored with categories
    already, one request per 100 ids. `quick`: a 5-second timeout and no retry, for a caller that is about to
    post. Never raises for arXiv's sake: a failure is logged as one warning line and the records stay as they
    were (those enriched by earlier batches keep what they got).
    """
    timeout = min(QUICK_TIMEOUT, settings.http_timeout) if quick else None
    with ArxivClient(settings, timeout=timeout, retries=0 if quick else 2) as client:
        enriched, _failed = enrich_with(client, records, sessions=sessions, warn=log.warning)
    return enriched


def enrich_with(
    client: ArxivClient,
    records: Sequence[PaperRecord],
    *,
    sessions: sessionmaker[Session] | None = None,
    warn: Callable[[str], None] = log.warning,
    on_batch: Callable[[int, int], None] | None = None,
) -> tuple[int, bool]:
    """`enrich_from_arxiv` with a client of the caller's: (records enriched, whether arXiv failed).
    `on_batch(done, total)` is called before each request and at the end, with counts of ids."""
    wanted = lacking_arxiv(records, sessions)
    ids = list(wanted)
    enriched = 0
    for start in range(0, len(ids), BATCH):
        if on_batch:
            on_batch(start, len(ids))
        batch = ids[start : start + BATCH]
        try:
            found = client.by_ids(batch)
        except (SourceError, httpx.HTTPError, ValueError) as exc:
            left = len(ids) - start
            warn(
                f"arXiv enrichment skipped for {left} paper{'s' if left != 1 else ''}: {first_line(exc)}"
                " (they go on without arXiv categories; a later fetch fills them)"
            )
            return enriched, True
        for answer in found:
            for record in wanted.get(answer.arxiv_id, ()):
                enriched += fill_from(record, answer)
    if on_batch:
        on_batch(len(ids), len(ids))
    return enriched, False


def lacking_arxiv(
    records: Sequence[PaperRecord], sessions: sessionmaker[Session] | None
) -> dict[str, list[PaperRecord]]:
    """The records worth asking arXiv about, by id: no categories, and (with `sessions`) none stored either."""
    wanted: dict[str, list[PaperRecord]] = {}
    for record in records:
        if not record.categories:
            wanted.setdefault(record.arxiv_id, []).append(record)
    if wanted and sessions is not None:
        with sessions.begin() as session:
            for known in ids_with_categories(session=session, arxiv_ids=wanted):
                del wanted[known]
    return wanted


def fill_from(record: PaperRecord, answer: PaperRecord) -> bool:
    """Copy into `record` what it lacks and arXiv's `answer` has; True when anything was filled."""
    filled = False
    for name in ENRICHED_FIELDS:
        mine, theirs = getattr(record, name), getattr(answer, name)
        if (mine is None or mine == "" or mine == []) and theirs not in (None, "", []):
            setattr(record, name, list(theirs) if isinstance(theirs, list) else theirs)
            filled = True
    return filled


class PaperUnavailable(Exception):
    """Neither Hugging Face nor arXiv has the paper, or neither answered; the message says what each said."""


def fetch_paper(settings: Settings, arxiv_id: str, *, sessions: sessionmaker[Session] | None = None) -> PaperRecord:
    """One paper by id from Hugging Face (enriched from arXiv when PAPERBOT_ARXIV_ENRICH is on), else from arXiv,
    each asked once with a short timeout; PaperUnavailable when neither has it or answers."""
    timeout = min(QUICK_TIMEOUT, settings.http_timeout)
    try:
        with HFClient(settings, timeout=timeout, max_retries=0) as hf:
            record = hf.paper(arxiv_id)
        hf_said = "Hugging Face does not know it"
    except SourceError as exc:
        record, hf_said = None, f"Hugging Face: {first_line(exc)}"
    if record is not None:
        if settings.arxiv_enrich:
            enrich_from_arxiv(settings, [record], quick=True, sessions=sessions)
        return record
    try:
        with ArxivClient(settings, timeout=timeout, retries=0) as arxiv:
            found = arxiv.by_ids([arxiv_id])
    except (SourceError, httpx.HTTPError) as exc:
        raise PaperUnavailable(f"{hf_said}; arXiv: {first_line(exc)}") from None
    if not found:
        raise PaperUnavailable(f"{hf_said}; arXiv does not know it either")
    return found[0]
