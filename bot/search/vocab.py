"""The search engine's vocabulary: term ids, and the look-ups that make queries tolerate typos and cut words.

Typos are found SymSpell-style: every term of three or more letters is stored with the 32-bit hashes of itself
and of each string one letter shorter (stable hashes, bot/search/hashing.py, so a saved index stays valid); a
query word's own deletes looked up there find every term within one insertion, deletion, substitution or
transposition (and some within two), which are then checked with the real (OSA) edit distance. A sorted array
of hashes costs ~8 bytes per entry instead of a dict's ~100.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager

import numpy as np
from rapidfuzz.distance import OSA

from bot.search.hashing import delete_hashes, low32, string_hash
from bot.search.text import deletes, max_typos

MIN_FUZZY_TERM = 3  # shorter terms are only ever matched exactly
PREFIX_SCAN = 512  # terms looked at for one cut-off last word: "co" alone would otherwise scan thousands


def _typo_table(terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The hashes of every term's deletes (`delete_hashes`) sorted, and the term each belongs to; equal hashes
    in the order delete_hashes gave them (a stable argsort's order, from one sort of (hash, position) keys:
    less than half a stable argsort's time)."""
    hashes, owners = delete_hashes(terms, MIN_FUZZY_TERM)
    keys = (hashes.astype(np.uint64) << np.uint64(32)) | np.arange(len(hashes), dtype=np.uint64)
    del hashes
    keys.sort()
    return (keys >> np.uint64(32)).astype(np.uint32), owners[(keys & np.uint64(0xFFFFFFFF)).astype(np.int64)]


def _hash(text: str) -> int:
    return low32(string_hash(text))


class Vocabulary:
    """Term <-> id, with typo and prefix look-ups. Terms added after `freeze()` are kept in small side tables."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self.terms: list[str] = []
        self._frozen = 0  # terms [0, _frozen) are in the sorted arrays below
        self._sorted: list[str] = []
        self._sorted_ids = np.empty(0, np.int32)
        self._del_hash = np.empty(0, np.uint32)
        self._del_term = np.empty(0, np.int32)
        self._new_deletes: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self.terms)

    def get(self, term: str) -> int | None:
        """The id of `term`, or None if no paper has it."""
        return self._ids.get(term)

    @contextmanager
    def marked(self, markers: dict[str, int]) -> Iterator[Callable[[str, int], int]]:
        """The term -> id dict's own `get` (bot/search/bulk.py maps it over many tokens at C speed), with
        `markers` (tokens -> negative numbers: separators, stopwords) answered instead while it is in use."""
        shadowed = {token: self._ids[token] for token in markers if token in self._ids}
        self._ids.update(markers)
        try:
            yield self._ids.get
        finally:
            for token in markers:
                del self._ids[token]
            self._ids.update(shadowed)

    def intern(self, term: str) -> int:
        """The id of `term`, giving it a new one if it is new."""
        found = self._ids.get(term)
        if found is not None:
            return found
        term_id = len(self.terms)
        self._ids[term] = term_id
        self.terms.append(term)
        if self._frozen and len(term) >= MIN_FUZZY_TERM:
            for variant in deletes(term):
                self._new_deletes.setdefault(_hash(variant), []).append(term_id)
        return term_id

    def intern_all(self, terms: set[str]) -> list[int]:
        """The ids of `terms`, new ones given an id."""
        get = self._ids.get
        intern = self.intern
        return [found if (found := get(term)) is not None else intern(term) for term in terms]

    def freeze(self, pool: Executor | None = None) -> None:
        """Rebuild the sorted look-up arrays over every term (after a bulk build, or to fold in new terms). With
        a `pool`, the typo table (numpy: it releases the GIL) is built on it while this thread sorts the terms."""
        terms = self.terms
        table = pool.submit(_typo_table, terms) if pool is not None else None
        order = sorted(range(len(terms)), key=terms.__getitem__)  # ids by their term: no dict look-ups
        self._sorted = [terms[i] for i in order]
        self._sorted_ids = np.array(order, np.int32)
        self._del_hash, self._del_term = table.result() if table is not None else _typo_table(terms)
        self._new_deletes = {}
        self._frozen = len(terms)

    def export(self) -> dict[str, np.ndarray]:
        """The frozen vocabulary as arrays (for a snapshot); `freeze()` first."""
        if self._frozen != len(self.terms):
            raise ValueError("the vocabulary has terms added since it was frozen")
        joined = "\n".join(self.terms).encode()  # terms never hold a newline: they are letters and digits
        return {
            "terms": np.frombuffer(joined, np.uint8),
            "sorted_ids": self._sorted_ids,
            "del_hash": self._del_hash,
            "del_term": self._del_term,
        }

    @classmethod
    def restore(cls, arrays: dict[str, np.ndarray]) -> Vocabulary:
        """The vocabulary `export` saved; ValueError if the arrays do not fit together."""
        vocab = cls()
        text = arrays["terms"].tobytes().decode()
        vocab.terms = text.split("\n") if text else []
        count = len(vocab.terms)
        vocab._ids = dict(zip(vocab.terms, range(count), strict=True))
        sorted_ids, del_term = arrays["sorted_ids"], arrays["del_term"]
        if len(vocab._ids) != count or len(sorted_ids) != count or len(del_term) != len(arrays["del_hash"]):
            raise ValueError("vocabulary arrays of different sizes")
        if count and (int(sorted_ids.min()) < 0 or int(sorted_ids.max()) >= count):
            raise ValueError("a sorted term id out of range")
        if len(del_term) and (int(del_term.min()) < 0 or int(del_term.max()) >= count):
            raise ValueError("a typo table entry names no term")
        vocab._sorted = [vocab.terms[i] for i in sorted_ids.tolist()]
        vocab._sorted_ids, vocab._del_hash, vocab._del_term = sorted_ids, arrays["del_hash"], del_term
        vocab._frozen = count
        return vocab

    def similar(self, word: str) -> list[tuple[int, int]]:
        """Terms within `max_typos(word)` edits of `word` other than `word` itself, as (term id, distance)."""
        limit = max_typos(word)
        if limit == 0:
            return []
        probes = [_hash(v) for v in deletes(word)]
        found: set[int] = set()
        if len(self._del_hash):
            keys = np.asarray(probes, np.uint32)
            lo = np.searchsorted(self._del_hash, keys, "left")
            hi = np.searchsorted(self._del_hash, keys, "right")
            for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
                if b > a:
                    found.update(self._del_term[a:b].tolist())
        for probe in probes:
            found.update(self._new_deletes.get(probe, ()))
        out = []
        for term_id in found:
            term = self.terms[term_id]
            if term != word and (distance := OSA.distance(word, term, score_cutoff=limit)) <= limit:
                out.append((term_id, distance))
        return out

    def prefixed(self, prefix: str) -> list[int]:
        """Ids of terms that start with `prefix` and are longer than it (at most PREFIX_SCAN of the sorted ones)."""
        out: list[int] = []
        start = bisect_left(self._sorted, prefix)
        stop = min(len(self._sorted), start + PREFIX_SCAN)
        for i in range(start, stop):
            term = self._sorted[i]
            if not term.startswith(prefix):
                break
            if term != prefix:
                out.append(int(self._sorted_ids[i]))
        new = range(self._frozen, len(self.terms))
        out.extend(i for i in new if self.terms[i].startswith(prefix) and self.terms[i] != prefix)
        return out
