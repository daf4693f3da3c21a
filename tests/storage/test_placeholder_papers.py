"""A shared link's placeholder paper row (source 'link', title `arXiv:<id>`): stored at once so the share's votes
and replies have a paper to point at, replaced by whatever real record of the paper comes later, on both
databases."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.shares import placeholder_record
from storage.models import Paper
from storage.papers import PLACEHOLDER, UpsertStats, daily_papers, get_paper, upsert_papers
from storage.records import PaperRecord

ID = "2502.12345"
DAY = date(2025, 2, 18)


def upsert(sessions: sessionmaker[Session], *records: PaperRecord) -> UpsertStats:
    with sessions.begin() as session:
        return upsert_papers(session=session, records=list(records))


def stored(sessions: sessionmaker[Session], arxiv_id: str = ID) -> Paper:
    with sessions.begin() as session:
        paper = get_paper(session=session, arxiv_id=arxiv_id)
        assert paper is not None
        session.expunge(paper)
        return paper


REAL = {
    "hf": PaperRecord(arxiv_id=ID, title="From HF", authors=["Ada"], hf_upvotes=7, daily_date=DAY, source="hf"),
    "arxiv": PaperRecord(arxiv_id=ID, title="From arXiv", authors=["Ada"], version="v2", source="arxiv"),
    # A snapshot line without a version or date is "not newer" than anything: it must still replace a placeholder.
    "snapshot": PaperRecord(arxiv_id=ID, title="From a snapshot", authors=["Ada"], source="snapshot"),
    "sample": PaperRecord(arxiv_id=ID, title="From the sample", authors=["Ada"], source="sample"),
}


@pytest.mark.parametrize("source", REAL)
def test_any_real_record_replaces_a_placeholder(sessions: sessionmaker[Session], source: str) -> None:
    assert upsert(sessions, placeholder_record(ID)) == UpsertStats(inserted=1)
    placeholder = stored(sessions)
    assert (placeholder.title, placeholder.source, placeholder.authors) == (f"arXiv:{ID}", PLACEHOLDER, [])
    assert upsert(sessions, REAL[source]) == UpsertStats(updated=1)
    paper = stored(sessions)
    assert (paper.title, paper.authors, paper.source) == (REAL[source].title, ["Ada"], source)
    assert upsert(sessions, REAL[source]) == UpsertStats(unchanged=1)


def test_a_placeholder_never_changes_a_known_paper(sessions: sessionmaker[Session]) -> None:
    upsert(sessions, REAL["snapshot"])
    assert upsert(sessions, placeholder_record(ID)) == UpsertStats(unchanged=1)
    assert (stored(sessions).title, stored(sessions).source) == ("From a snapshot", "snapshot")


def test_an_old_style_id_gets_its_placeholder_title(sessions: sessionmaker[Session]) -> None:
    upsert(sessions, placeholder_record("hep-th/9901001"))
    assert stored(sessions, "hep-th/9901001").title == "arXiv:hep-th/9901001"


def test_daily_papers_lists_a_filled_in_placeholder_and_never_a_placeholder(sessions: sessionmaker[Session]) -> None:
    upsert(sessions, placeholder_record(ID), placeholder_record("2502.00001"))
    upsert(sessions, REAL["hf"])
    with sessions.begin() as session:
        assert [p.title for p in daily_papers(session=session, day=DAY)] == ["From HF"]
