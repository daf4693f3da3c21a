"""Candidate scoring: which papers a plan reaches, and how much of the query each one covers.

Postings are scored cheapest term first. Terms whose postings fit DENSE_BUDGET (together) are accumulated
over per-thread arrays as large as the index, so no per-query allocation grows with it; the other, commonest
terms are only looked up (binary search in their sorted lists) for the best POOL papers found so far: the
postings of "learning" or "models" at a million papers would cost more than the rest of the query.
"""

from __future__ import annotations

import numpy as np

from bot.search.plan import Plan, Term
from bot.search.postings import Postings, contains

DENSE_BUDGET = 60_000  # postings accumulated per query (beyond the cheapest term, which always is)
POOL = 10_000  # candidates kept for the lookups of the commonest terms


class Scratch:
    """Per-thread work arrays, one slot per paper, left all-zero between searches."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.best = np.zeros(size, np.float32)
        self.total = np.zeros(size, np.float32)
        self.pos = np.zeros(size, np.int32)


def candidates(
    plan: Plan, fields: tuple[Postings, ...], alive: bytearray, scratch: Scratch
) -> tuple[np.ndarray, np.ndarray]:
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
    docs = np.concatenate([_accumulate(term, scratch) for term in dense])
    scores = scratch.total[docs]
    scratch.total[docs] = 0
    live = np.frombuffer(alive, np.uint8)[docs] != 0
    docs, scores = docs[live], scores[live]
    if len(docs) > POOL:
        top = np.argpartition(-scores, POOL)[:POOL]
        docs, scores = docs[top], scores[top]
    if checked:
        order = np.argsort(docs)  # binary searches run faster over sorted probes
        docs, scores = docs[order], scores[order]
        for term in checked:
            scores += _best_of(term, docs)
    return docs, scores / plan.total


def _accumulate(term: Term, scratch: Scratch) -> np.ndarray:
    """Add the term's best weight per paper into `scratch.total`; returns the papers it reached first."""
    best, total = scratch.best, scratch.total
    parts = []
    for expansion in term.expansions:
        for sorted_docs in expansion.lists:
            current = best[sorted_docs]
            np.maximum(current, expansion.weight, out=current)
            best[sorted_docs] = current
            parts.append(sorted_docs)
    reached = parts[0] if len(parts) == 1 else np.concatenate(parts)
    if len(parts) > 1:  # one paper through several variants or fields: keep it once
        slots = np.arange(len(reached), dtype=np.int32)
        scratch.pos[reached] = slots
        reached = reached[scratch.pos[reached] == slots]
    gained = best[reached]
    best[reached] = 0
    before = total[reached]
    total[reached] = before + gained
    fresh: np.ndarray = reached[before == 0]
    return fresh


def _best_of(term: Term, docs: np.ndarray) -> np.ndarray:
    """The term's best weight for each of `docs` (sorted), found by binary search in its postings."""
    best = np.zeros(len(docs), np.float32)
    for expansion in term.expansions:
        hit = contains(expansion.lists, docs)
        np.maximum(best, np.where(hit, np.float32(expansion.weight), np.float32(0)), out=best)
    return best
