"""Why the engine misses queries: is the wanted paper findable at all, and where did the engine lose it?

    .venv/bin/python bench/search_misses.py [--size 300000] [--queries 300] [--show 40]

Builds the benchmark's corpus and queries (bench/search_corpus.py) and the engine, then, for every query, asks
an oracle that knows which title the query was made from: the query's words with the typo undone (each word
that is not in the wanted title stands for the title word within two edits of it; a cut-off last word for the
title word it begins), matched exactly against every title (the oracle also sees the author a query names).
`rivals` counts the other distinct titles that satisfy the same oracle as well as the wanted one, by the
strictest reading the query's kind allows (the first words for prefix and typo queries, the opening's words in order
for a dropped word, the opening's words in any order for a shuffle, the bag of words otherwise). With 5 or more
rivals the query is ambiguous in this corpus: no engine can be sure to put the wanted title in the top 5, and
the best a tie-breaker without knowledge of the target can expect is 5 / (rivals + 1).

For each miss it prints the rivals, whether the wanted paper was among the engine's candidates, its rank by
coverage, and its rank after rescoring every candidate. The summary gives the oracle's expected recall@5 (the
ceiling of any engine on these queries) beside the engine's. The oracle itself (`Rivals`, `intended_words`,
`satisfies`) lives in bench/search_corpus.py, whose query generator uses it to lengthen queries that name too many
titles; so the ceiling should be about 1, less only by queries ambiguous even with the whole title.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.search_corpus import Paper, Query, Rivals, lengthening, papers, queries  # noqa: E402
from bot.search import SearchDoc, SearchIndex  # noqa: E402
from bot.search.index import FIELD_WEIGHTS  # noqa: E402
from bot.search.plan import plan_query  # noqa: E402
from bot.search.rank import combined, title_similarities  # noqa: E402
from bot.search.scoring import candidates  # noqa: E402
from bot.search.text import comparable  # noqa: E402


@dataclass
class Verdict:
    """What the oracle and the engine made of one query."""

    query: Query
    intended: list[str]  # the query's words as the wanted title spells them (others dropped)
    rivals: int  # other distinct titles the oracle rates as well as the wanted one
    found: bool  # the engine's top 5 has the wanted title
    candidate: bool  # the wanted paper (or a paper with its title) is among the engine's candidates
    coverage_rank: int  # its rank among the candidates by coverage (1 = first), 0 if not a candidate
    final_rank: int  # its rank after rescoring every candidate, 0 if not a candidate
    candidates: int


class Oracle(Rivals):
    """The rival count of bench/search_corpus.py (`Rivals`) over every title, through the engine's own title
    postings."""

    unique = False

    def __init__(self, corpus: list[Paper], index: SearchIndex) -> None:
        super().__init__(corpus)
        self.index = index

    def holding(self, word: str) -> np.ndarray | None:
        term = self.index._vocab.get(word)
        if term is None:
            return None
        lists = self.index._fields[0].lists(term)
        return np.concatenate(lists) if lists else None

    def rivals(self, query: Query, target: int) -> tuple[list[str], int]:
        """The intended words and how many other distinct titles satisfy the oracle as well as the target."""
        return self.count(query.text, query.kind, target)


def diagnose(index: SearchIndex, oracle: Oracle, query: Query, target: int) -> Verdict:
    """The oracle's and the engine's view of one query."""
    intended, rivals = oracle.rivals(query, target)
    wanted = comparable(oracle.corpus[target].title)
    hits = index.search(query.text, 5)
    found = any(comparable(h.title) == wanted for h in hits)
    plan = plan_query(query.text, index._vocab, index._fields, FIELD_WEIGHTS, index._live)
    if plan is None:
        return Verdict(query, intended, rivals, found, False, 0, 0, 0)
    docs, coverage = candidates(plan, index._fields, index._alive)
    titles = [comparable(index._title(int(d))) for d in docs]
    same = np.array([t == wanted for t in titles], bool)
    if not same.any():
        return Verdict(query, intended, rivals, found, False, 0, 0, len(docs))
    best_cov = float(coverage[same].max())
    coverage_rank = int((coverage > best_cov).sum()) + 1
    sims = title_similarities(plan.text, titles)
    final = np.array([combined(float(c), float(s)) for c, s in zip(coverage, sims, strict=True)])
    best = float(final[same].max())
    final_rank = len({t for t, f in zip(titles, final, strict=True) if f > best}) + 1
    return Verdict(query, intended, rivals, found, True, coverage_rank, final_rank, len(docs))


def summary(verdicts: Sequence[Verdict]) -> list[str]:
    """The table's closing lines: recall beside the oracle's ceiling, and the misses by cause."""
    n = len(verdicts)
    misses = [v for v in verdicts if not v.found]
    ceiling = sum(min(1.0, 5 / (v.rivals + 1)) for v in verdicts) / n
    ambiguous = [v for v in misses if v.rivals >= 5]
    findable = [v for v in misses if v.rivals < 5]
    lost = [v for v in findable if not v.candidate]
    lines = [
        f"engine recall@5 {1 - len(misses) / n:.3f} on {n} queries; oracle's expected recall@5 {ceiling:.3f}",
        f"queries with >= 5 rivals: {sum(v.rivals >= 5 for v in verdicts)} of {n}",
        f"misses {len(misses)}: ambiguous (>= 5 rivals) {len(ambiguous)}, findable {len(findable)}"
        f" (not a candidate {len(lost)}, candidate but ranked > 5 {len(findable) - len(lost)})",
    ]
    kinds = sorted({v.query.kind for v in verdicts})
    for kind in kinds:
        of_kind = [v for v in verdicts if v.query.kind == kind]
        missed = [v for v in of_kind if not v.found]
        lines.append(
            f"  {kind:<8} recall {1 - len(missed) / len(of_kind):.3f}  misses {len(missed)}"
            f" (ambiguous {sum(v.rivals >= 5 for v in missed)})"
            f"  median rivals {int(np.median([v.rivals for v in of_kind]))}"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    """Diagnose every query of one corpus size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=300_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--show", type=int, default=60, help="misses printed one by one")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    corpus = list(papers(args.size))
    asked = queries(corpus, args.queries)
    index = SearchIndex.build(SearchDoc(p.arxiv_id, p.title, p.authors, p.keywords, p.abstract) for p in corpus)
    print(f"{args.size:,} papers, {len(asked)} queries, built in {time.perf_counter() - started:.0f} s", flush=True)
    print(lengthening(asked), flush=True)
    oracle = Oracle(corpus, index)
    position = {p.arxiv_id: n for n, p in enumerate(corpus)}
    verdicts = [diagnose(index, oracle, q, position[q.target]) for q in asked]
    print("kind     rivals cand  cov-rank final-rank  query -> wanted title")
    for v in [v for v in verdicts if not v.found][: args.show]:
        title = corpus[position[v.query.target]].title
        print(
            f"{v.query.kind:<8} {v.rivals:>6} {'yes' if v.candidate else 'NO ':<4} {v.coverage_rank:>8}"
            f" {v.final_rank:>10}  {v.query.text!r} -> {title!r}"
        )
    for line in summary(verdicts):
        print(line)


if __name__ == "__main__":
    main()
