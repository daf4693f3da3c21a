"""Candidate scoring against plain Python: the merged postings give each paper the sum over query words of its
best expansion's weight, and pruning (the dense budget, the pool) finds brute force's best title as often as
scoring every posting does."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from rapidfuzz import fuzz, process, utils

from bench.search_corpus import Paper, papers, queries
from bot.search import SearchDoc, SearchIndex, scoring
from bot.search.index import FIELD_WEIGHTS
from bot.search.plan import plan_query


@pytest.fixture(scope="module")
def corpus() -> list[Paper]:
    return list(papers(3000, seed=3))


@pytest.fixture(scope="module")
def index(corpus: list[Paper]) -> SearchIndex:
    return SearchIndex.build(SearchDoc(p.arxiv_id, p.title, p.authors, p.keywords, p.abstract) for p in corpus)


def _reference(index: SearchIndex, text: str) -> dict[int, float]:
    """Each paper's coverage, one posting at a time."""
    plan = plan_query(text, index._vocab, index._fields, FIELD_WEIGHTS, index._live)
    assert plan is not None
    total: dict[int, float] = defaultdict(float)
    for term in plan.terms:
        best: dict[int, float] = {}
        for expansion in term.expansions:
            for docs in expansion.lists:
                for doc in docs.tolist():
                    best[doc] = max(best.get(doc, 0.0), expansion.weight)
        for doc, weight in best.items():
            total[doc] += weight
    return {doc: score / plan.total for doc, score in total.items()}


def _candidates(index: SearchIndex, text: str) -> dict[int, float]:
    plan = plan_query(text, index._vocab, index._fields, FIELD_WEIGHTS, index._live)
    assert plan is not None
    docs, coverage = scoring.candidates(plan, index._fields, index._alive)
    return dict(zip(docs.tolist(), coverage.tolist(), strict=True))


def test_merged_postings_give_each_paper_its_best_expansion_per_word(
    corpus: list[Paper], index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoring, "DENSE_BUDGET", 10**9)  # every word merged: nothing pruned
    monkeypatch.setattr(scoring, "POOL", 10**9)
    # typos and cut-off words reach papers through several variants and fields at once
    asked = [q.text for q in queries(corpus, 30, seed=4)] + ["neural netwroks models", "learning learnin lear"]
    for text in asked:
        want, got = _reference(index, text), _candidates(index, text)
        assert got.keys() == want.keys(), text
        assert np.allclose([got[d] for d in want], list(want.values()), rtol=1e-5), text


def test_a_common_word_is_only_checked_on_the_pool(index: SearchIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoring, "DENSE_BUDGET", 0)  # only the cheapest word is merged, the others looked up
    want = _reference(index, "replica symmetry breaking networks")
    got = _candidates(index, "replica symmetry breaking networks")
    assert got and set(got) <= set(want)
    assert all(abs(got[doc] - want[doc]) < 1e-5 for doc in got)  # the lookups add the same weights


def test_pruning_finds_brute_force_best_title_as_often_as_scoring_everything(
    corpus: list[Paper], index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Budgets scaled to this small corpus (as the real ones are to a million papers) so that they bind."""
    titles = [utils.default_process(p.title) for p in corpus]
    asked = queries(corpus, 120, seed=8)

    def agreement() -> int:
        hits = 0
        for query in asked:
            scores = process.cdist([utils.default_process(query.text)], titles, scorer=fuzz.token_set_ratio)[0]
            best = titles[int(np.argmax(scores))]
            hits += best in {utils.default_process(hit.title) for hit in index.search(query.text, 5)}
        return hits

    monkeypatch.setattr(scoring, "DENSE_BUDGET", 10**9)
    monkeypatch.setattr(scoring, "POOL", 10**9)
    everything = agreement()
    monkeypatch.setattr(scoring, "DENSE_BUDGET", 200)
    monkeypatch.setattr(scoring, "POOL", 30)
    assert agreement() >= everything - 2  # within tie luck: many generated titles fit a query equally
    assert everything >= 0.6 * len(asked)


def test_counts_of_many_terms_match_one_by_one(corpus: list[Paper]) -> None:
    index = SearchIndex.build(SearchDoc(p.arxiv_id, p.title, p.authors) for p in corpus[:300])
    index.add(SearchDoc("9999.00001", "Replica symmetry of zebrafinch songs"))  # a tail posting and a new term
    ids = [*range(0, len(index._vocab), 7), len(index._vocab) - 1, len(index._vocab) + 5]
    for postings in index._fields:
        assert postings.counts(ids).tolist() == [postings.count(t) for t in ids]
