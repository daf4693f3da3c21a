"""Candidate scoring: which papers a plan reaches, and how much of the query each one covers.

Postings are scored cheapest term first. Terms whose postings fit DENSE_BUDGET (together) are merged into
scores for every paper they reach; the other, commonest terms are only looked up (binary search in their
sorted postings) for the best POOL papers found so far: the postings of "learning" or "models" at a million
papers would cost more than the rest of the query.
"""

from __future__ import annotations

import numpy as np

from bot.search.plan import Plan, Term
from bot.search.postings import Postings, contains

DENSE_BUDGET = 60_000  # postings merged per query (beyond the cheapest term, which always is)
POOL = 4_000  # candidates kept for the lookups of the commonest terms (10,000 found no more at 1M papers)


def candidates(plan: Plan, fields: tuple[Postings, ...], alive: bytearray) -> tuple[np.ndarray, np.ndarray]:
    """The live papers the plan reaches and their coverage of the query (0-1), in no particular order."""
    dense: list[Term] = []
    checked: list[Term] = []
    spent = 0
    for term in sorted((t for t in plan.terms if t.cost), key=lambda t: t.cost):
        if not dense or spent + term.cost <= DENSE_BUDGET:
            dense.append(term)
            spent += term.cost
        else:
            checked.append(term)
    if not dense:
        return np.empty(0, np.int32), np.empty(0, np.float32)
    docs, scores = _dense(dense)
    if len(docs) > POOL:
        top = np.argpartition(-scores, POOL)[:POOL]
        docs, scores = docs[top], scores[top]
    live = np.frombuffer(alive, np.uint8)[docs] != 0
    docs, scores = docs[live], scores[live]
    if checked:
        order = np.argsort(docs)  # binary searches run faster over sorted probes
        docs, scores = docs[order], scores[order]
        for term in checked:
            scores += _best_of(term, docs)
    return docs, scores / plan.total


def _dense(terms: list[Term]) -> tuple[np.ndarray, np.ndarray]:
    """Every paper the terms reach, sorted, with the sum over terms of each term's best weight for it.

    All postings go into one int64 array of keys `paper | term | expansion rank` (the rank orders a term's
    expansions by weight), sorted once: a paper's postings are then side by side, each term's strongest last,
    and the sums are one `reduceat`. Sequential passes over a few hundred KB, where scattering into arrays as
    long as the index missed the cache at every posting."""
    lists: list[np.ndarray] = []
    codes: list[int] = []
    ranks = max(len(t.expansions) for t in terms)
    rank_bits = max(1, (ranks - 1).bit_length())
    code_bits = rank_bits + max(1, (len(terms) - 1).bit_length())
    for n, term in enumerate(terms):
        for rank, expansion in enumerate(sorted(term.expansions, key=lambda e: e.weight)):
            code = (n << rank_bits) | rank
            lists += expansion.lists
            codes += [code] * len(expansion.lists)
    table = np.zeros(len(terms) << rank_bits, np.float32)
    for n, term in enumerate(terms):
        ordered = sorted(e.weight for e in term.expansions)
        table[(n << rank_bits) : (n << rank_bits) + len(ordered)] = ordered
    keys = np.concatenate(lists).astype(np.int64) << code_bits
    keys |= np.repeat(np.asarray(codes, np.int64), [len(a) for a in lists])
    keys.sort()
    group = keys >> rank_bits  # (paper, term)
    last = np.empty(len(keys), bool)
    last[-1] = True
    np.not_equal(group[1:], group[:-1], out=last[:-1])
    keys = keys[last]
    gained = table[keys & ((1 << code_bits) - 1)]
    docs = keys >> code_bits
    first = np.empty(len(docs), bool)
    first[0] = True
    np.not_equal(docs[1:], docs[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return docs[starts].astype(np.int32), np.add.reduceat(gained, starts)


def _best_of(term: Term, docs: np.ndarray) -> np.ndarray:
    """The term's best weight for each of `docs` (sorted), found by binary search in its postings."""
    best = np.zeros(len(docs), np.float32)
    for expansion in term.expansions:
        hit = contains(expansion.lists, docs)
        np.maximum(best, np.where(hit, np.float32(expansion.weight), np.float32(0)), out=best)
    return best
