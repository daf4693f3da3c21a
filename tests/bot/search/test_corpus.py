"""The benchmark's generated corpus keeps the properties of real arXiv titles that decide how findable a paper is,
and its queries carry enough of their title to tell it apart, as people type them."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

from bench.search_corpus import (
    ENOUGH,
    KINDS,
    Growing,
    Paper,
    Query,
    draft_query,
    drafts,
    intended_words,
    lengthening,
    papers,
    queries,
    satisfies,
)
from bench.search_misses import Oracle
from bot.search import SearchDoc, SearchIndex
from bot.search.text import words


def test_the_specific_words_keep_coming_as_the_corpus_grows() -> None:
    rng = random.Random(3)
    draw = Growing(rng, lambda: f"w{rng.random()}", d=0.75, theta=300.0)
    seen = [len({draw() for _ in range(100_000)})]
    for _ in range(3):
        for _ in range(100_000):
            draw()
        seen.append(len(draw.counts))
    # Heaps' law: four times the draws bring about 4^0.75 = 2.8 times the words, not a fixed list's ceiling.
    assert 2.3 < seen[-1] / seen[0] < 3.3, seen
    uses = sorted(draw.counts.values(), reverse=True)
    assert uses[0] > 1000 and uses[len(uses) // 2] <= 2  # a few words recur everywhere, most are rare


def test_titles_rarely_repeat_and_mix_the_fields() -> None:
    corpus = list(papers(20_000, seed=5))
    titles = [tuple(words(p.title)) for p in corpus]
    repeated = sum(n for n in Counter(titles).values() if n > 1)
    assert repeated / len(titles) < 0.01
    physics = sum(p.title.startswith(("Measurement of", "Observation of", "Evidence for")) for p in corpus)
    mathematics = sum(p.title.startswith(("On the", "A note on", "The ")) for p in corpus)
    assert physics > 200 and mathematics > 200


def _shared_openings() -> list[Paper]:
    """Titles that share long openings, as formulaic arXiv titles do; three of them are each the whole opening
    of six others, so that no query can tell them apart."""
    objects = ["top quarks", "W bosons", "Z bosons", "jets", "photons", "muons", "b hadrons", "charm mesons"]
    settings = ["pp collisions at 13 TeV", "lead-lead collisions", "proton-lead collisions", "the forward region"]
    titles = [f"Measurement of the cross section of {o} production in {s}" for o in objects for s in settings]
    priors = ["Spectral", "Hyperbolic", "Sparse", "Causal", "Kalomirian", "Neural", "Geometric", "Learned"]
    titles += [f"Towards Robust Graph Learning with {p} Priors for {t}" for p in priors for t in ("Molecules", "Code")]
    for base in ("A survey of quantum error correction", "Deep learning for jet tagging", "Notes on the Ising model"):
        titles += [base, *(f"{base} {more}" for more in ("codes", "decoders", "thresholds", "hardware", "in 3D", "II"))]
    surnames = ["Li", "Kim", "Smith"]
    return [Paper(f"2401.{n:05d}", t, (f"Ada {surnames[n % 3]}",)) for n, t in enumerate(titles)]


def _rivals_by_brute_force(corpus: list[Paper], query: Query) -> int:
    """The oracle's rival count, every title compared one by one."""
    mine = next(p for p in corpus if p.arxiv_id == query.target)
    intended = intended_words(query.text, query.kind, words(mine.title))
    surname = words(query.text)[0] if query.kind == "author" else None
    fitting = {
        tuple(words(p.title))
        for p in corpus
        if satisfies(query.kind, intended, words(p.title))
        and (surname is None or surname in {words(a)[-1] for a in p.authors})
    }
    return len(fitting - {tuple(words(mine.title))})


def test_queries_are_lengthened_until_they_tell_their_title_apart() -> None:
    corpus = _shared_openings()
    asked = queries(corpus, 150, seed=3)
    assert asked == queries(corpus, 150, seed=3)  # the same set per seed
    drawn = drafts(corpus, 150, seed=3)
    assert [q.text for q in queries(corpus, 150, seed=3, lengthen=False)] == [d.text() for _, _, d in drawn]
    longer = 0
    for query, (target, kind, draft) in zip(asked, drawn, strict=True):
        assert (query.target, query.kind) == (corpus[target].arxiv_id, kind)
        # The drawn query with the words its writer types next (the title's next or next most telling words),
        # its typos kept: as many as needed to leave fewer than 5 other titles fitting it, or all of them.
        assert query.text == draft.text(query.added)
        assert query.rivals == _rivals_by_brute_force(corpus, query), query
        assert query.rivals < ENOUGH or query.added == len(draft.more), query
        if query.added:
            longer += 1
            fewer = replace(query, text=draft.text(query.added - 1))
            assert _rivals_by_brute_force(corpus, fewer) >= ENOUGH, query
    assert longer > 20
    # Three titles are the whole opening of six others each: their first-words queries fit those six even
    # when the whole title is typed, and are counted, not dropped.
    still = [q for q in asked if q.rivals >= ENOUGH]
    openings = {"A survey of quantum error correction", "Deep learning for jet tagging", "Notes on the Ising model"}
    title_of = {p.arxiv_id: p.title for p in corpus}
    assert any(title_of[q.target] in openings and q.kind == "prefix" for q in still)
    assert lengthening(asked).endswith(f"with the whole title: {len(still)}")


def test_a_draft_goes_on_the_way_its_kind_is_typed() -> None:
    title = "Towards Robust Graph Learning with Kalomirian Priors for Molecules in Chemistry"
    paper = Paper("2401.00001", title, ("Ada Li",))
    rarity = {"kalomirian": 6, "molecules": 5, "priors": 4, "graph": 3, "robust": 2, "chemistry": 1}
    for seed in range(40):
        for kind in KINDS:
            draft = draft_query(paper, kind, random.Random(seed), lambda w: rarity.get(w.lower(), 0))
            full = draft.text(len(draft.more)).split()
            first = draft.text().split()
            if kind in ("prefix", "typo", "dropped", "order"):  # the title's next words, in order, typos kept
                assert full[: len(first) - 1] == first[:-1]
                added = full[len(first) :]  # all of `more`, the last word perhaps still being typed (cut)
                assert added[:-1] == list(draft.more)[:-1] and draft.more[-1].startswith(added[-1])
                assert list(draft.more) == title.split()[len(title.split()) - len(draft.more) :]
                assert len(full) == len(title.split()) - (kind == "dropped")
            else:  # the next most telling words, then the title's other words; the vague word stays last
                more = [w.lower() for w in draft.more]
                told = [w for w in more if w in rarity]
                assert told == sorted(told, key=rarity.__getitem__, reverse=True)
                assert more.index("learning") > max(map(more.index, told), default=-1)
                typed = set(words(" ".join(full)))
                assert len((set(rarity) | {"learning", "towards"}) - typed) <= (kind == "half")  # one word typo'd
                if kind == "half":
                    assert draft.text(1).endswith(draft.tail[0]) and draft.text(1) == draft.text(1).lower()
                else:
                    assert full[0] == "li"


def test_the_benchmark_oracle_counts_the_same_rivals_through_the_engine_postings() -> None:
    corpus = _shared_openings()
    index = SearchIndex.build(SearchDoc(p.arxiv_id, p.title, p.authors) for p in corpus)
    oracle = Oracle(corpus, index)
    position = {p.arxiv_id: n for n, p in enumerate(corpus)}
    asked = queries(corpus, 150, seed=3)
    assert [oracle.rivals(q, position[q.target])[1] for q in asked] == [q.rivals for q in asked]
