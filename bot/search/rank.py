"""Final ranking: the candidates' fuzzy title similarity, their index score, and the team signal for near-ties."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from rapidfuzz import fuzz, process

# A team signal: arxiv_id -> a boost in [0, 1] (votes, replies, saves...), or a function giving it.
TeamSignal = Mapping[str, float] | Callable[[str], float]

# How many points (of 100) a full team boost is worth: it reorders papers whose scores are this close and no
# others, so a paper the team liked never overtakes a clearly better match.
TIE_WINDOW = 1.5

INDEX_SHARE = 0.45  # of the final score: how much of the query the paper's fields cover (typo-weighted)
FUZZY_SHARE = 0.55  # and how closely its title reads like the query


def title_similarity(query: str, title: str) -> float:
    """How well `title` matches `query` (both `comparable()`), 0-100: word-set overlap, order-insensitive, with
    a bonus for titles that begin like the query (people type the first words they remember).

    >>> title_similarity("attention is all you need", "attention is all you need") == 100.0
    True
    >>> title_similarity("atention all you need", "attention is all you need") > 80
    True
    """
    return float(title_similarities(query, [title])[0])


def title_similarities(query: str, titles: list[str]) -> np.ndarray:
    """`title_similarity` of each of `titles` at once (one rapidfuzz call per scorer)."""
    if not query:
        return np.zeros(len(titles), np.float32)
    queries = [query]
    overlap = process.cdist(queries, titles, scorer=fuzz.token_set_ratio, dtype=np.float32)[0]
    whole = process.cdist(queries, titles, scorer=fuzz.token_sort_ratio, dtype=np.float32)[0]
    openings = [title[: len(query)] for title in titles]
    opening = process.cdist(queries, openings, scorer=fuzz.ratio, dtype=np.float32)[0]
    blended: np.ndarray = 0.6 * overlap + 0.25 * opening + 0.15 * whole
    return blended


def combined(coverage: float, similarity: float) -> float:
    """The final score (0-100) from index coverage (0-1) and title similarity (0-100)."""
    return INDEX_SHARE * 100.0 * coverage + FUZZY_SHARE * similarity


def team_boost(signal: TeamSignal | None, arxiv_id: str) -> float:
    """The signal's boost for a paper, clamped to [0, 1] (a missing paper or a bad value counts as 0)."""
    if signal is None:
        return 0.0
    value = signal.get(arxiv_id, 0.0) if isinstance(signal, Mapping) else signal(arxiv_id)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return min(max(number, 0.0), 1.0) if number == number else 0.0  # NaN counts as no boost


def with_team_signal(scored: list[tuple[float, int, str]], signal: TeamSignal | None) -> list[tuple[float, int, str]]:
    """`scored` (score, doc, arxiv_id) sorted best first, a paper's team boost moving it up only past papers
    that scored less than TIE_WINDOW points above it.

    >>> with_team_signal([(80.0, 1, "a"), (79.5, 2, "b"), (60.0, 3, "c")], {"b": 1.0, "c": 1.0})[:2]
    [(79.5, 2, 'b'), (80.0, 1, 'a')]
    """
    if signal is None:
        return sorted(scored, key=lambda item: (-item[0], item[1]))
    keyed = [(score + TIE_WINDOW * team_boost(signal, key), score, doc, key) for score, doc, key in scored]
    keyed.sort(key=lambda item: (-item[0], -item[1], item[2]))
    return [(score, doc, key) for _, score, doc, key in keyed]
