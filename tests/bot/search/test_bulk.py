"""The bulk tokeniser finds exactly the terms `index_terms` finds, paper by paper, whatever the text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bench.search_corpus import papers
from bot.search import SearchDoc, SearchIndex
from bot.search.bulk import text_pairs
from bot.search.text import index_terms
from bot.search.vocab import Vocabulary

WORDS = st.sampled_from(["LLaMA", "adapter", "of", "the", "Schölkopf", "Mamba", "2", "it", "s", "Φ", "naïve", "x"])
GLUE = st.sampled_from([" ", "-", "'", "’", "–", ": ", "_", "  ", ", ", "\t", "(", ")"])
TEXTS = st.lists(st.lists(st.tuples(WORDS, GLUE), max_size=8).map(lambda p: "".join(a + b for a, b in p)))


def _by_paper(texts: list[str]) -> set[tuple[str, int]]:
    vocab = Vocabulary()
    terms, owners = text_pairs(texts, vocab)
    return {(vocab.terms[t], n) for t, n in zip(terms.tolist(), owners.tolist(), strict=True)}


@given(TEXTS)
def test_bulk_terms_are_index_terms(texts: list[str]) -> None:
    assert _by_paper(texts) == {(term, n) for n, text in enumerate(texts) for term in index_terms(text)}


@given(st.lists(st.text(max_size=30), max_size=6))
def test_bulk_terms_of_any_text_are_index_terms(texts: list[str]) -> None:
    assert _by_paper(texts) == {(term, n) for n, text in enumerate(texts) for term in index_terms(text)}


def test_a_bulk_build_answers_as_papers_added_one_by_one() -> None:
    docs = [SearchDoc(p.arxiv_id, p.title, p.authors, p.keywords, p.abstract) for p in papers(1500, seed=11)]
    bulk = SearchIndex.build(docs)
    one_by_one = SearchIndex()
    for doc in docs:
        one_by_one.add(doc)
    one_by_one.compact()
    for query in [doc.title[:30] for doc in docs[::40]] + [doc.authors[0] for doc in docs[::97] if doc.authors]:
        assert [(h.arxiv_id, h.score) for h in bulk.search(query, 5)] == [
            (h.arxiv_id, h.score) for h in one_by_one.search(query, 5)
        ], query
