"""A query's plan: its words, each expanded over the vocabulary into weighted postings lists."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.search.postings import Postings
from bot.search.text import STOPWORDS, comparable, index_terms, words
from bot.search.vocab import Vocabulary

MAX_WORDS = 32  # a pasted abstract is searched by its opening
MAX_VARIANTS = 24  # expansions kept per query word, closest first
PREFIX_TERMS = 16  # completions kept for a cut-off last word, most common first
TYPO_SIMILARITY = {1: 0.8, 2: 0.6}


@dataclass
class Expansion:
    """One vocabulary term in one field standing for a query word: its sorted paper ids and its weight."""

    lists: list[np.ndarray]
    weight: float


@dataclass
class Term:
    """One query word: its expansions, what scoring them costs (postings), and the most it can add."""

    word: str
    weight: float
    expansions: list[Expansion] = field(default_factory=list)
    cost: int = 0


@dataclass
class Plan:
    """What a search does: the query as the rescoring compares it, and its terms."""

    text: str
    terms: list[Term]
    total: float  # the sum of the terms' weights: a paper matching every word exactly in its title has it all


def plan_query(
    query: str, vocab: Vocabulary, fields: Sequence[Postings], field_weights: Sequence[float], papers: int
) -> Plan | None:
    """The plan for `query`, or None when it has no searchable word or the index is empty."""
    if papers == 0 or not isinstance(query, str):
        return None
    said = words(query)[:MAX_WORDS]
    wanted = list(dict.fromkeys(w for w in said if w not in STOPWORDS))
    wanted += sorted(index_terms(" ".join(query.split()[:MAX_WORDS])) - set(said))  # joined hyphenated names
    if not wanted:
        return None
    cut_off = said[-1] if said and query.rstrip() == query and query[-1:].isalnum() else None
    terms = [_term(w, w == cut_off, vocab, fields, field_weights, papers) for w in wanted]
    return Plan(comparable(query[:2000]), terms, sum(t.weight for t in terms))


def _term(
    word: str, last: bool, vocab: Vocabulary, fields: Sequence[Postings], field_weights: Sequence[float], papers: int
) -> Term:
    variants = _variants(word, last, vocab, fields)
    holding = sum(_count(fields, term_id) for term_id in variants)
    # One idf for the word over all its variants: a typo that happens to be some title's rare misspelling
    # must not outweigh the common spelling the user meant.
    weight = _idf(papers, min(holding, papers)) if holding else _idf(papers, 1)
    term = Term(word, weight)
    for term_id, similarity in variants.items():
        for postings, field_weight in zip(fields, field_weights, strict=True):
            lists = postings.lists(term_id)
            if lists:
                term.expansions.append(Expansion(lists, similarity * field_weight * weight))
                term.cost += sum(len(a) for a in lists)
    return term


def _variants(word: str, last: bool, vocab: Vocabulary, fields: Sequence[Postings]) -> dict[int, float]:
    """Term id -> similarity to `word` (1 for the word itself) of the terms standing for it."""
    found: dict[int, float] = {}
    for term_id, distance in vocab.similar(word):
        found[term_id] = TYPO_SIMILARITY[distance]
    if last and len(word) >= 2:
        completions = vocab.prefixed(word)
        if len(completions) > PREFIX_TERMS:  # the most common first, ties in the order found
            held = sum(postings.counts(completions) for postings in fields)
            completions = [completions[i] for i in np.argsort(-held, kind="stable").tolist()]
        for term_id in completions[:PREFIX_TERMS]:
            similarity = 0.6 + 0.3 * len(word) / len(vocab.terms[term_id])
            found[term_id] = max(found.get(term_id, 0.0), similarity)
    if len(found) > MAX_VARIANTS:
        found = dict(sorted(found.items(), key=lambda item: -item[1])[:MAX_VARIANTS])
    exact = vocab.get(word)
    if exact is not None:
        found[exact] = 1.0
    return found


def _count(fields: Sequence[Postings], term_id: int) -> int:
    return sum(postings.count(term_id) for postings in fields)


def _idf(papers: int, holding: int) -> float:
    """BM25's idf, floored at a small positive so a word every paper has still counts a little."""
    return max(math.log(1.0 + (papers - holding + 0.5) / (holding + 0.5)), 0.05)
