"""The bulk build (bot/search/bulk.py, and the service's pages read through the driver's cursor) answers exactly
as the build it replaced, and an index snapshot that build saved still loads and answers the same.

`data/search_results_before.json` (the top 5 of 60 queries with their scores) and `data/index_format1.snapshot`
(40 papers) were made by the build before the bulk tokeniser read the JSON of author lists, from the same corpus.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bench.search_corpus import papers
from bot.search import SearchDoc, SearchIndex, SearchService, snapshot
from storage.papers import upsert_papers
from storage.records import PaperRecord

DATA = Path(__file__).parent / "data"
DOCS = [SearchDoc(p.arxiv_id, p.title, p.authors, p.keywords, p.abstract) for p in papers(1500, seed=11)]


def _hits(index: SearchIndex | SearchService, query: str) -> list[list[object]]:
    return [[hit.arxiv_id, hit.score] for hit in index.search(query, 5)]


def test_the_build_answers_as_the_build_before_it() -> None:
    expected = json.loads((DATA / "search_results_before.json").read_text())
    index = SearchIndex.build(DOCS)
    assert len(expected) == 60
    for query, hits in expected.items():
        assert _hits(index, query) == hits, query


def test_a_snapshot_saved_by_the_build_before_loads_and_answers_as_a_new_build() -> None:
    _, arrays = snapshot.read(DATA / "index_format1.snapshot", "fixture")
    saved, fresh = SearchIndex.restore(arrays), SearchIndex.build(DOCS[:40])
    assert len(saved) == len(fresh) == 40
    queries = [doc.title[:25] for doc in DOCS[:40]] + [doc.authors[-1] for doc in DOCS[:40] if doc.authors]
    for query in [*queries, "atention is al you", "difusion", "state-of-the-art"]:
        assert _hits(saved, query) == _hits(fresh, query), query


# Author lists as the database keeps them in JSON: escapes (accents in SQLite's JSON, quotes, backslashes),
# hyphens and apostrophes joining names, and texts the tokeniser's fast path must not mistake.
TRICKY = [
    PaperRecord("2401.00001", "Kernel Methods Revisited", ["Bernhard Schölkopf", "Jean-Pierre O'Brien"]),
    PaperRecord("2401.00002", 'Quoted "Names" in Lists', ['Ann "Nan" Lee', "Back\\slash Smith", "Zoë Ñandú"]),
    PaperRecord("2401.00003", "Φ^4 Theory On The Lattice", ["Jürgen Müller-Lüdenscheidt", "Li-Na Wu-Chen"]),
    PaperRecord(
        "2401.00004",
        "State-of-the-Art Diffusion",
        ["I-S Kim", "A--B Park", "Tab\tByte"],
        abstract="Fine-tuning diffusion models, state-of-the-art results.",
        ai_keywords=["diffusion", "fine-tuning"],
        daily_date=date(2024, 1, 2),
    ),
    PaperRecord("2401.00005", "No Authors At All", [], abstract="Not a daily paper: not indexed."),
]


def test_a_build_from_the_database_answers_as_a_build_from_memory(sessions: sessionmaker[Session]) -> None:
    records = TRICKY + [
        PaperRecord(doc.arxiv_id, doc.title, list(doc.authors), abstract=doc.abstract, ai_keywords=list(doc.keywords))
        for doc in DOCS[:300]
    ]
    with sessions.begin() as session:
        upsert_papers(session=session, records=records)
    service = SearchService(sessions)
    assert service.warm() == len(records)
    memory = SearchIndex.build(
        SearchDoc(r.arxiv_id, r.title, r.authors, r.ai_keywords, r.abstract if r.daily_date else None) for r in records
    )
    queries = ["scholkopf", "obrien", "jeanpierre", "nan lee", "back slash", "zoe nandu", "mullerludenscheidt"]
    queries += ["lina wuchen", "is kim", "park", "tab byte", "finetuning", "stateoftheart", "no authors", "lattice φ"]
    queries += [doc.title[:25] for doc in DOCS[:300:7]] + [doc.authors[0] for doc in DOCS[:300:11] if doc.authors]
    for query in queries:
        assert _hits(service, query) == _hits(memory, query), query
    assert _hits(service, "jean-pierre o'brien")[0][0] == "2401.00001"
    assert _hits(service, "muller ludenscheidt")[0][0] == "2401.00003"
