"""The search engine on its own: recall against brute-force rapidfuzz, typos, fields, updates, ties, bad input."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz, process, utils

from bench.search_corpus import Paper, papers, queries
from bot.search import SearchDoc, SearchIndex

CORPUS_SIZE = 4000
SCORERS = {
    "WRatio": fuzz.WRatio,
    "token_set_ratio": fuzz.token_set_ratio,
    "token_sort_ratio": fuzz.token_sort_ratio,
    "partial_ratio": fuzz.partial_ratio,
    "QRatio": fuzz.QRatio,
}
REPLICA = "Replica symmetry breaking in dense neural networks"  # a real title, from the bundled sample


def _doc(paper: Paper) -> SearchDoc:
    return SearchDoc(paper.arxiv_id, paper.title, paper.authors, paper.keywords, paper.abstract)


@pytest.fixture(scope="module")
def corpus() -> list[Paper]:
    """A few thousand generated titles (fixed seed), the bundled sample's real titles first."""
    return list(papers(CORPUS_SIZE, seed=7))


@pytest.fixture(scope="module")
def index(corpus: list[Paper]) -> SearchIndex:
    return SearchIndex.build(_doc(p) for p in corpus)


def _id_of(corpus: list[Paper], title: str) -> str:
    return next(p.arxiv_id for p in corpus if p.title == title)


def _top(index: SearchIndex, query: str, limit: int = 5) -> list[str]:
    return [hit.arxiv_id for hit in index.search(query, limit)]


def test_recall_at_5_is_at_least_the_best_brute_force_scorer(corpus: list[Paper], index: SearchIndex) -> None:
    titles = [utils.default_process(p.title) for p in corpus]
    title_of = {p.arxiv_id: utils.default_process(p.title) for p in corpus}
    asked = queries(corpus, 150, seed=5)

    def found(query_title: str, got: set[str]) -> bool:
        return query_title in got  # a paper whose title is the wanted one's counts: no query can tell them apart

    ours = sum(found(title_of[q.target], {title_of[k] for k in _top(index, q.text)}) for q in asked)
    brute = {}
    for name, scorer in SCORERS.items():
        hits = 0
        for q in asked:
            scores = process.cdist([utils.default_process(q.text)], titles, scorer=scorer, dtype=np.int16)[0]
            top = np.argsort(-scores, kind="stable")[:5]
            hits += found(title_of[q.target], {titles[i] for i in top})
        brute[name] = hits
    assert ours >= max(brute.values()), (ours, brute)
    assert ours >= 0.85 * len(asked), (ours, brute)


@pytest.mark.parametrize(
    ("kind", "query"),
    [
        ("letters swapped", "Rpelica symmetry breaking in dense"),
        ("letter dropped", "Replica symetry breaking in dense neural"),
        ("letter inserted", "Replica symmmetry breaking dense networks"),
        ("letter replaced", "Replica symmetry breakinf in dense"),
        ("words out of order", "dense neural networks replica symmetry breaking"),
        ("word missing", "Replica symmetry in dense neural networks"),
        ("extra word", "replica symmetry breaking paper"),
        ("half remembered", "replica symetry paper"),
        ("first words", "Replica symmetry brea"),
        ("all lower case, accents", "réplica symmetry breaking"),
    ],
)
def test_a_typed_query_finds_the_paper(corpus: list[Paper], index: SearchIndex, kind: str, query: str) -> None:
    assert _id_of(corpus, REPLICA) in _top(index, query, 3), kind


def test_the_exact_title_ranks_first(corpus: list[Paper], index: SearchIndex) -> None:
    for title in (
        "Attention Is All You Need",
        "Light Schrödinger Bridge",
        "Flow Equivariant Recurrent Neural Networks",
    ):
        assert index.search(title, 1)[0].title == title


def test_authors_are_found_by_name_even_misspelled() -> None:
    index = SearchIndex.build(
        [
            SearchDoc("1", "Reducing the Transformer Architecture to a Minimum", ("Bernhard Bermeitinger",)),
            SearchDoc("2", "Reducing the Transformer Architecture", ("Ada Lovelace",)),
        ]
    )
    assert _top(index, "bermeitinger transformer", 1) == ["1"]
    assert _top(index, "bermietinger", 1) == ["1"]
    assert _top(index, "lovelace transformer architecture", 1) == ["2"]


def test_hf_keywords_and_abstracts_are_searched_below_titles() -> None:
    index = SearchIndex.build(
        [
            SearchDoc("k", "A Study of Things", keywords=("speculative decoding",)),
            SearchDoc("a", "Another Study of Things", abstract="We accelerate inference with speculative decoding."),
            SearchDoc("t", "Speculative Decoding for Things"),
        ]
    )
    assert _top(index, "speculative decoding") == ["t", "k", "a"]


def test_a_paper_added_later_is_found_and_an_update_replaces_its_title(index: SearchIndex) -> None:
    index.add(SearchDoc("2612.00001", "Quokkaformer: Marsupial Attention for Tabular Data"))
    assert _top(index, "quokaformer marsupial", 1) == ["2612.00001"]
    index.update(SearchDoc("2612.00001", "Wombat Networks for Burrow Mapping"))
    assert _top(index, "wombat burrow", 1) == ["2612.00001"]
    assert "2612.00001" not in _top(index, "quokkaformer marsupial attention")
    assert index.search("wombat burrow", 1)[0].title == "Wombat Networks for Burrow Mapping"
    assert index.remove("2612.00001") and "2612.00001" not in index
    assert "2612.00001" not in _top(index, "wombat burrow")


def test_compacting_keeps_every_paper_findable() -> None:
    index = SearchIndex.build([SearchDoc("1", "Sparse Mixture of Experts")])
    index.add(SearchDoc("2", "Dense Mixture of Experts"))
    index.add(SearchDoc("1", "Sparse Mixture of Specialists"))
    index.compact()
    assert _top(index, "sparse specialists", 1) == ["1"]
    assert _top(index, "dense mixture experts", 1) == ["2"]
    assert len(index) == 2


def test_a_build_naming_one_paper_twice_keeps_its_last_version() -> None:
    index = SearchIndex.build([SearchDoc("1", "Old Title About Otters"), SearchDoc("1", "New Title About Beavers")])
    assert len(index) == 1
    assert _top(index, "otters") == []
    assert _top(index, "beavers") == ["1"]


def test_the_team_signal_breaks_near_ties_only() -> None:
    index = SearchIndex.build(
        [
            SearchDoc("a", "Scaling Laws for Neural Language Models"),
            SearchDoc("b", "Scaling Laws for Neural Language Models"),
            SearchDoc("c", "Scaling Laws for Neural Machine Translation in the Wild"),
        ]
    )
    assert _top(index, "scaling laws neural language models", 2) == ["a", "b"]
    assert _top(index, "scaling laws neural language models", 2) != ["b", "a"]
    ranked = [h.arxiv_id for h in index.search("scaling laws neural language models", 3, boost={"b": 1.0, "c": 1.0})]
    assert ranked == ["b", "a", "c"]  # b ties with a and wins; c, a clearly worse match, stays last
    assert _top(index, "scaling laws neural language models", 1) == ["a"]  # no signal, no change
    called = [h.arxiv_id for h in index.search("scaling laws neural language models", 1, boost=lambda k: k == "b")]
    assert called == ["b"]


def test_a_filter_still_fills_the_limit(corpus: list[Paper], index: SearchIndex) -> None:
    wanted = {p.arxiv_id for p in corpus if p.arxiv_id.endswith("7")}
    hits = index.search("language models", 10, accept=wanted.__contains__)
    assert len(hits) == 10
    assert all(hit.arxiv_id in wanted for hit in hits)
    assert index.search("language models", 10, accept=lambda _: False) == []


@pytest.mark.parametrize(
    "query",
    ["", "   ", "the of a", "!!!???", "\x00\x01", "🦜🦜🦜", "日本語の論文", "a" * 10_000, "x " * 5000, "'; DROP TABLE"],
)
def test_odd_queries_return_a_list(index: SearchIndex, query: str) -> None:
    assert isinstance(index.search(query, 5), list)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=-3, max_value=50))
def test_any_text_returns_at_most_limit_hits(query: str, limit: int) -> None:
    hits = _SMALL.search(query, limit)
    assert isinstance(hits, list)
    assert len(hits) <= max(limit, 0)
    assert all(0 <= hit.score <= 100 + 2 for hit in hits)


_SMALL = SearchIndex.build(
    SearchDoc(p.arxiv_id, p.title, p.authors) for p in papers(300, seed=random.Random(1).randint(0, 9))
)


def test_an_empty_index_finds_nothing() -> None:
    assert SearchIndex().search("attention", 5) == []
    assert SearchIndex.build([]).search("attention", 5) == []
