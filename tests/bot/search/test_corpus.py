"""The benchmark's generated corpus keeps the properties of real arXiv titles that decide how findable a paper is."""

from __future__ import annotations

import random
from collections import Counter

from bench.search_corpus import Growing, papers
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
