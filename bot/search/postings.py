"""Postings of one field (title, authors, keywords, abstract): for each term id, the ids of the papers that have it.

A bulk build collects (term, paper) pairs in flat arrays and sorts them once into a compressed layout (one
int32 array of paper ids plus per-term offsets: 4 bytes a posting). Papers added later go to small per-term
arrays beside it; `compact()` folds those in. Paper ids only grow, so every list is sorted by paper id.
"""

from __future__ import annotations

from array import array

import numpy as np

_EMPTY = np.empty(0, np.int32)


class Postings:
    """The postings of one field: a frozen compressed part and an appendable tail."""

    def __init__(self) -> None:
        self._offsets = np.zeros(1, np.int64)
        self._docs = _EMPTY
        self._pending_terms = array("i")  # (term, doc) pairs of a bulk build not yet frozen
        self._pending_docs = array("i")
        self._tail: dict[int, array[int]] = {}
        self.tail_postings = 0

    def collect(self, term_ids: list[int], doc: int) -> None:
        """Note a paper's postings during a bulk build (cheap; visible after `freeze`)."""
        self._pending_terms.extend(term_ids)
        self._pending_docs.extend([doc] * len(term_ids))

    def collect_many(self, term_ids: np.ndarray, docs: np.ndarray) -> None:
        """`collect` for many papers' (term, paper) pairs at once (int32 arrays of one length)."""
        self._pending_terms.frombytes(term_ids.astype(np.int32).tobytes())
        self._pending_docs.frombytes(docs.astype(np.int32).tobytes())

    def pending_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The (term ids, paper ids) collected by a bulk build and not frozen yet (int32 views)."""
        return np.frombuffer(self._pending_terms, np.int32), np.frombuffer(self._pending_docs, np.int32)

    def append(self, term_id: int, doc: int) -> None:
        """Add a posting at once (incremental updates); `doc` must be the newest paper id."""
        tail = self._tail.get(term_id)
        if tail is None:
            self._tail[term_id] = tail = array("i")
        tail.append(doc)
        self.tail_postings += 1

    def freeze(self, vocabulary_size: int, alive: np.ndarray | None = None) -> None:
        """Fold collected pairs and the tail into the compressed part, dropping papers not `alive`."""
        terms, docs = self._all_pairs()
        if alive is not None and len(docs):
            keep = alive[docs].astype(bool)
            terms, docs = terms[keep], docs[keep]
        # One int64 key per pair, term then paper: one sort (a third of a lexsort's time), and a pair collected
        # twice (a word twice in a title, in bulk) is kept once.
        pairs = (terms.astype(np.int64) << 32) | docs.astype(np.int64)
        del terms, docs
        pairs.sort()
        if len(pairs) > 1:
            pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
        self._docs = (pairs & 0xFFFFFFFF).astype(np.int32)
        counts = np.bincount(pairs >> 32, minlength=vocabulary_size)
        del pairs
        self._offsets = np.zeros(vocabulary_size + 1, np.int64)
        np.cumsum(counts, out=self._offsets[1:])
        self._pending_terms, self._pending_docs = array("i"), array("i")
        self._tail, self.tail_postings = {}, 0

    def export(self) -> dict[str, np.ndarray]:
        """The compressed part as arrays (for a snapshot); `freeze()` first."""
        if self.tail_postings or len(self._pending_docs):
            raise ValueError("postings added since the last freeze")
        return {"offsets": self._offsets, "docs": self._docs}

    @classmethod
    def restore(cls, arrays: dict[str, np.ndarray], vocabulary_size: int, papers: int) -> Postings:
        """The postings `export` saved; ValueError if they do not fit the vocabulary and papers."""
        offsets, docs = arrays["offsets"], arrays["docs"]
        if len(offsets) != vocabulary_size + 1 or offsets[0] != 0 or offsets[-1] != len(docs):
            raise ValueError("postings offsets do not fit")
        if np.any(np.diff(offsets) < 0) or (len(docs) and (int(docs.min()) < 0 or int(docs.max()) >= papers)):
            raise ValueError("postings out of range")
        postings = cls()
        postings._offsets, postings._docs = offsets.astype(np.int64, copy=False), docs.astype(np.int32, copy=False)
        return postings

    def _all_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        frozen_terms = np.repeat(np.arange(len(self._offsets) - 1, dtype=np.int32), np.diff(self._offsets))
        parts_t = [frozen_terms, np.frombuffer(self._pending_terms, np.int32)]
        parts_d = [self._docs, np.frombuffer(self._pending_docs, np.int32)]
        for term_id, tail in self._tail.items():
            parts_t.append(np.full(len(tail), term_id, np.int32))
            parts_d.append(np.frombuffer(tail, np.int32))
        return np.concatenate(parts_t), np.concatenate(parts_d)

    def count(self, term_id: int) -> int:
        """How many papers have the term in this field."""
        frozen = 0
        if term_id < len(self._offsets) - 1:
            frozen = int(self._offsets[term_id + 1] - self._offsets[term_id])
        tail = self._tail.get(term_id)
        return frozen + (len(tail) if tail is not None else 0)

    def counts(self, term_ids: list[int]) -> np.ndarray:
        """`count` of each of `term_ids` at once (int64)."""
        ids = np.asarray(term_ids, np.int64)
        frozen = len(self._offsets) - 1
        inside = np.minimum(ids, max(frozen - 1, 0))
        out = np.where(ids < frozen, self._offsets[inside + 1] - self._offsets[inside], 0) if frozen else ids * 0
        if self._tail:
            out = out + np.fromiter((len(self._tail.get(t, ())) for t in term_ids), np.int64, len(term_ids))
        return out

    def lists(self, term_id: int) -> list[np.ndarray]:
        """The term's sorted paper-id arrays (frozen part first, then the tail); views, not copies."""
        out = []
        if term_id < len(self._offsets) - 1:
            start, stop = self._offsets[term_id], self._offsets[term_id + 1]
            if stop > start:
                out.append(self._docs[start:stop])
        tail = self._tail.get(term_id)
        if tail:
            out.append(np.frombuffer(tail, np.int32))
        return out

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (for the benchmark's accounting)."""
        tail = sum(len(a) for a in self._tail.values()) * 4
        return int(self._offsets.nbytes + self._docs.nbytes + tail + len(self._pending_docs) * 8)


def contains(lists: list[np.ndarray], docs: np.ndarray) -> np.ndarray:
    """Which of `docs` occur in any of the sorted arrays `lists` (a boolean mask)."""
    mask = np.zeros(len(docs), bool)
    for sorted_docs in lists:
        at = np.searchsorted(sorted_docs, docs)
        np.minimum(at, len(sorted_docs) - 1, out=at)
        mask |= sorted_docs[at] == docs
    return mask
