"""The in-memory search engine behind `/papers search`: an inverted index with typo-tolerant query expansion.

    >>> index = SearchIndex.build([
    ...     SearchDoc("1706.03762", "Attention Is All You Need", authors=("Ashish Vaswani", "Noam Shazeer")),
    ...     SearchDoc("2312.00752", "Mamba: Linear-Time Sequence Modeling with Selective State Spaces"),
    ... ])
    >>> [hit.arxiv_id for hit in index.search("atention is all you", limit=1)]
    ['1706.03762']
    >>> index.search("vaswani", limit=1)[0].title
    'Attention Is All You Need'
    >>> index.add(SearchDoc("2405.21060", "Transformers are SSMs: Mamba-2"))
    >>> index.search("mamba2", limit=1)[0].arxiv_id
    '2405.21060'

How a query runs: each word is expanded over the vocabulary (the word itself, terms within one or two typos,
and for the last word the terms it begins), each expansion weighted by its closeness and by the rarity of the
word. The papers holding the rarer words are scored through their postings; the commonest words (whose
postings would cost most) are only checked on those candidates. The best candidates are rescored with
rapidfuzz against their titles, and the team signal breaks near-ties. The engine holds no database or Slack
code: bot/search/service.py keeps it filled from the database.
"""

from __future__ import annotations

import ctypes
import heapq
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from itertools import islice

import numpy as np

from bot.search.bulk import Batch, text_pairs
from bot.search.hashing import bytes_hashes, string_hash
from bot.search.plan import Plan, plan_query
from bot.search.postings import Postings
from bot.search.rank import TIE_WINDOW, TeamSignal, combined, title_similarities, with_team_signal
from bot.search.scoring import candidates
from bot.search.text import comparable, index_terms
from bot.search.vocab import Vocabulary

ABSTRACT_TERMS = 150  # distinct abstract terms indexed per paper: the opening says what the paper is about
RESCORE = 120  # candidates rescored with rapidfuzz (more only while a filter leaves fewer than `limit`)
RESCORE_CHUNK = 50  # candidates rescored between two checks of whether the rest could still matter
FIELD_WEIGHTS = (1.0, 0.9, 0.8, 0.4)  # title, authors, keywords, abstract
BULK_CHUNK = 2000  # papers tokenised together in a bulk build


@dataclass(frozen=True, slots=True)
class SearchDoc:
    """What the engine indexes of one paper."""

    arxiv_id: str
    title: str
    authors: Sequence[str] = ()
    keywords: Sequence[str] = ()
    abstract: str | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result: the paper, its title as indexed, and its score (0-100, higher is better)."""

    arxiv_id: str
    title: str
    score: float


@dataclass(slots=True)
class BulkPart:
    """What a bulk load of some papers collected before its compaction, for another index (in another process)
    to append with `bulk_load_batches`: the vocabulary's terms by id, the papers' titles and ids (UTF-8, with
    the end of each), and each field's (term id, paper number) pairs, numbered from 0 in this part."""

    terms: list[str]
    titles: bytes
    title_ends: np.ndarray
    keys: bytes
    key_ends: np.ndarray
    pairs: list[tuple[np.ndarray, np.ndarray]]

    def __len__(self) -> int:
        return len(self.key_ends)


class SearchIndex:
    """Papers searchable by title, authors, HF keywords and abstract. Thread-safe: one lock guards changes
    and searches (a search takes milliseconds)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._vocab = Vocabulary()
        self._fields = tuple(Postings() for _ in FIELD_WEIGHTS)
        self._titles, self._title_ends = bytearray(), array("q", [0])
        self._keys, self._key_ends = bytearray(), array("q", [0])
        self._alive = bytearray()
        self._live = 0
        self._building = False
        self._key_hash = np.empty(0, np.uint64)  # stable hashes of the frozen papers' ids, sorted, and their doc ids
        self._key_doc = np.empty(0, np.int32)
        self._new_keys: dict[str, int] = {}
        self._compacted = True  # nothing stored since the last compaction

    @classmethod
    def build(cls, docs: Iterable[SearchDoc]) -> SearchIndex:
        """An index of `docs`, built in bulk (much faster and more compact than adding them one by one)."""
        index = cls()
        index.bulk_load(docs)
        return index

    def bulk_load(self, docs: Iterable[SearchDoc]) -> int:
        """Add many papers at once, then compact; returns how many were read."""
        return self.bulk_load_batches(_batch(chunk) for chunk in _chunks(docs, BULK_CHUNK))

    def bulk_load_batches(self, batches: Iterable[Batch | BulkPart]) -> int:
        """`bulk_load` of papers already in columns (what the service reads from the database), or collected by
        `collect` elsewhere (appended as they are: see `BulkPart`)."""
        with self._lock:
            self._building = True
            try:
                return self._store_all(batches)
            finally:
                self._building = False
                self.compact()

    def _store_all(self, batches: Iterable[Batch | BulkPart]) -> int:
        """Store every batch (`_building`); returns how many papers. Its own function, so that the last batch
        (a helper's part can be 150 MB) is freed before the compaction."""
        count = 0
        for batch in batches:
            if isinstance(batch, BulkPart):
                self._absorb(batch)
            else:
                self._store_many(batch)
            count += len(batch)
        return count

    @classmethod
    def collect(cls, batches: Iterable[Batch]) -> BulkPart:
        """What `bulk_load_batches(batches)` collects before it compacts, for an index in another process: a
        build split in two (bot/search/loading.py) tokenises half the papers in a helper process this way. An
        index that loads this part after its own papers, then compacts, is the index that would have loaded
        both in one go, term ids included: the part's new terms get theirs in the order they came here."""
        index = cls()
        index._building = True
        for batch in batches:
            index._store_many(batch)
        ends = [np.frombuffer(bounds, np.int64)[1:] for bounds in (index._title_ends, index._key_ends)]
        pairs = [field.pending_pairs() for field in index._fields]
        return BulkPart(index._vocab.terms, bytes(index._titles), ends[0], bytes(index._keys), ends[1], pairs)

    def add(self, doc: SearchDoc) -> None:
        """Index `doc`, replacing the paper with the same arxiv_id if there is one (so this also updates)."""
        with self._lock:
            self._store(doc)

    update = add

    def remove(self, arxiv_id: str) -> bool:
        """Forget a paper; False if it was not indexed."""
        with self._lock:
            doc = self._doc_of(arxiv_id)
            if doc is None:
                return False
            self._kill(doc, arxiv_id)
            return True

    def __len__(self) -> int:
        return self._live

    def __contains__(self, arxiv_id: object) -> bool:
        with self._lock:
            return isinstance(arxiv_id, str) and self._doc_of(arxiv_id) is not None

    @property
    def pending(self) -> int:
        """Postings added since the last compaction (they are slower to search; `compact()` folds them in)."""
        return sum(field.tail_postings for field in self._fields)

    def compact(self) -> None:
        """Fold incrementally added papers into the compact arrays and drop replaced ones' postings."""
        with self._lock:
            self._freeze_keys(np.frombuffer(bytes(self._alive), np.uint8))
            alive = np.frombuffer(bytes(self._alive), np.uint8)  # after _freeze_keys dropped duplicates
            terms = len(self._vocab)
            # The postings' sorts and the typo table (numpy) release the GIL: each on a thread of its own (the
            # typo table, the longest, starts at once), beside the vocabulary's sort (Python) in this one.
            with (
                ThreadPoolExecutor(1, thread_name_prefix="search-compact") as pool,
                ThreadPoolExecutor(1, thread_name_prefix="search-typos") as typos,
            ):
                frozen = [pool.submit(field.freeze, terms, alive) for field in self._fields]
                self._vocab.freeze(typos)
                for done in frozen:
                    done.result()
            self._compacted = True
        give_back_memory()

    def export(self) -> dict[str, np.ndarray]:
        """The whole index as named arrays, compacted first if papers were added (bot/search/snapshot.py saves
        them; `restore` gives the same index back, in any process)."""
        with self._lock:
            if not self._compacted:
                self.compact()
            arrays: dict[str, np.ndarray] = {
                "titles": np.frombuffer(bytes(self._titles), np.uint8),
                "title_ends": np.array(self._title_ends, np.int64),
                "keys": np.frombuffer(bytes(self._keys), np.uint8),
                "key_ends": np.array(self._key_ends, np.int64),
                "alive": np.frombuffer(bytes(self._alive), np.uint8),
                "key_hash": self._key_hash,
                "key_doc": self._key_doc,
            }
            arrays |= {f"vocab.{name}": array for name, array in self._vocab.export().items()}
            for n, field in enumerate(self._fields):
                arrays |= {f"field{n}.{name}": array for name, array in field.export().items()}
            return arrays

    @classmethod
    def restore(cls, arrays: dict[str, np.ndarray]) -> SearchIndex:
        """The index `export` gave; ValueError (or KeyError) if the arrays are not a consistent index."""
        index = cls()
        papers = len(arrays["alive"])
        for name, ends, data in (("title", "title_ends", "titles"), ("key", "key_ends", "keys")):
            bounds = arrays[ends]
            if len(bounds) != papers + 1 or bounds[0] != 0 or bounds[-1] != len(arrays[data]):
                raise ValueError(f"{name} offsets do not fit")
            if np.any(np.diff(bounds) < 0):
                raise ValueError(f"{name} offsets go backwards")
        key_doc = arrays["key_doc"]
        if len(key_doc) != len(arrays["key_hash"]) or (len(key_doc) and int(key_doc.max()) >= papers):
            raise ValueError("paper id table does not fit")
        index._vocab = Vocabulary.restore(_prefixed(arrays, "vocab."))
        index._fields = tuple(
            Postings.restore(_prefixed(arrays, f"field{n}."), len(index._vocab), papers)
            for n in range(len(FIELD_WEIGHTS))
        )
        index._titles, index._keys = bytearray(arrays["titles"].tobytes()), bytearray(arrays["keys"].tobytes())
        index._title_ends, index._key_ends = array("q"), array("q")
        index._title_ends.frombytes(arrays["title_ends"].astype(np.int64).tobytes())
        index._key_ends.frombytes(arrays["key_ends"].astype(np.int64).tobytes())
        index._alive = bytearray(arrays["alive"].tobytes())
        index._live = int(np.count_nonzero(arrays["alive"]))
        index._key_hash, index._key_doc = arrays["key_hash"].astype(np.uint64), key_doc.astype(np.int32)
        return index

    def search(
        self,
        query: str,
        limit: int = 10,
        *,
        accept: Callable[[str], bool] | None = None,
        boost: TeamSignal | None = None,
    ) -> list[SearchHit]:
        """The best `limit` papers for `query`, best first. `accept(arxiv_id)` filters papers out (more
        candidates are scored until `limit` are accepted or none are left); `boost` (arxiv_id -> 0..1, a
        mapping or a function) reorders papers whose scores are within `rank.TIE_WINDOW` points."""
        if limit <= 0:
            return []
        with self._lock:
            plan = plan_query(query, self._vocab, self._fields, FIELD_WEIGHTS, self._live)
            if plan is None:
                return []
            docs, coverage = candidates(plan, self._fields, self._alive)
            return self._rank(plan, docs, coverage, limit, accept, boost)

    def _rank(
        self,
        plan: Plan,
        docs: np.ndarray,
        coverage: np.ndarray,
        limit: int,
        accept: Callable[[str], bool] | None,
        boost: TeamSignal | None,
    ) -> list[SearchHit]:
        """Rescore candidates, best coverage first, until no unscored one could still reach the top `limit`
        (its coverage with a perfect title similarity and a full team boost is below the limit-th score)."""
        order = _best_first(coverage, RESCORE + RESCORE_CHUNK)
        kept: list[tuple[float, int, str]] = []  # accepted candidates: (score, doc, arxiv_id; "" until needed)
        floor = -1.0  # the limit-th best kept score so far
        for start in range(0, len(coverage), RESCORE_CHUNK):
            if len(kept) >= limit and (
                start >= RESCORE or combined(float(coverage[order[start]]), 100.0) + TIE_WINDOW < floor
            ):
                break
            if start + RESCORE_CHUNK > len(order) and len(order) < len(coverage):  # a filter refused many
                order = _best_first(coverage, len(coverage))
            picked = order[start : start + RESCORE_CHUNK]
            found = zip(docs[picked].tolist(), coverage[picked].tolist(), strict=True)
            chunk = [(doc, cover, "") for doc, cover in found]
            if accept is not None:
                chunk = [(d, c, k) for d, c, _ in chunk if accept(k := self._key(d))]
            titles = [comparable(self._title(doc)) for doc, _, _ in chunk]
            similarity = title_similarities(plan.text, titles).tolist()
            kept += [(combined(c, s), d, k) for (d, c, k), s in zip(chunk, similarity, strict=True)]
            if len(kept) >= limit:
                floor = heapq.nlargest(limit, kept)[-1][0]
        if boost is not None:  # the team signal is keyed by arxiv_id: only papers near the top can move
            near = heapq.nlargest(limit, kept)[-1][0] - TIE_WINDOW if len(kept) >= limit else -1.0
            kept = [(s, d, k or self._key(d)) for s, d, k in kept if s >= near]
        ranked = with_team_signal(kept, boost)[:limit]
        return [SearchHit(key or self._key(doc), self._title(doc), round(score, 2)) for score, doc, key in ranked]

    # ---- storing papers -------------------------------------------------------------------------------

    def _store(self, doc: SearchDoc) -> None:
        old = self._doc_of(doc.arxiv_id) if not self._building else None
        if old is not None:
            self._kill(old, doc.arxiv_id)
        number = len(self._alive)
        self._compacted = False
        self._titles += doc.title.encode()
        self._title_ends.append(len(self._titles))
        self._keys += doc.arxiv_id.encode()
        self._key_ends.append(len(self._keys))
        self._alive.append(1)
        self._live += 1
        if not self._building:
            self._new_keys[doc.arxiv_id] = number
        for field, terms in zip(self._fields, _field_terms(doc), strict=True):
            if not terms:
                continue
            term_ids = self._vocab.intern_all(terms)
            if self._building:
                field.collect(term_ids, number)
            else:
                for term_id in term_ids:
                    field.append(term_id, number)

    def _store_many(self, batch: Batch) -> None:
        """Append papers in bulk (`_building`): titles and authors tokenised together (bot/search/bulk.py)."""
        first = len(self._alive)
        self._compacted = False
        for data, ends, texts in (
            (self._titles, self._title_ends, batch.titles),
            (self._keys, self._key_ends, batch.keys),
        ):
            joined = "".join(texts)
            if joined.isascii():  # one character a byte
                encoded, lengths = joined.encode(), np.fromiter(map(len, texts), np.int64, len(texts))
            else:
                parts = [text.encode() for text in texts]
                encoded, lengths = b"".join(parts), np.fromiter(map(len, parts), np.int64, len(parts))
            ends.frombytes((np.cumsum(lengths) + len(data)).tobytes())
            data += encoded
        self._alive += b"\x01" * len(batch)
        self._live += len(batch)
        for field, texts in zip(self._fields[:2], (batch.titles, batch.authors), strict=True):
            term_ids, owners = text_pairs(texts, self._vocab)
            field.collect_many(term_ids, owners + first)
        if not batch.rare:
            return
        # The rarer fields, of the few papers that have them, tokenised together as well.
        numbers = np.array([number for number, _, _ in batch.rare], np.int32) + np.int32(first)
        keywords = ["; ".join(words) if words else "" for _, words, _ in batch.rare]
        term_ids, owners = text_pairs(keywords, self._vocab)
        self._fields[2].collect_many(term_ids, numbers[owners])
        term_ids, owners = self._opening_terms(*text_pairs([text or "" for _, _, text in batch.rare], self._vocab))
        self._fields[3].collect_many(term_ids, numbers[owners])

    def _opening_terms(self, term_ids: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The distinct (term, abstract) pairs of `text_pairs`, at most ABSTRACT_TERMS terms an abstract: the
        first in alphabetical order, as `_rare_terms` keeps them."""
        pairs = np.unique((owners.astype(np.int64) << 32) | term_ids.astype(np.int64))
        term_ids, owners = (pairs & 0xFFFFFFFF).astype(np.int32), (pairs >> 32).astype(np.int32)
        counts = np.bincount(owners)
        if counts.max(initial=0) <= ABSTRACT_TERMS:
            return term_ids, owners
        keep = np.ones(len(pairs), bool)
        starts = np.concatenate(([0], np.cumsum(counts)))
        terms = self._vocab.terms
        for owner in np.flatnonzero(counts > ABSTRACT_TERMS).tolist():
            ids = term_ids[starts[owner] : starts[owner + 1]].tolist()
            dropped = set(sorted(ids, key=terms.__getitem__)[ABSTRACT_TERMS:])
            keep[starts[owner] : starts[owner + 1]] = [term not in dropped for term in ids]
        return term_ids[keep], owners[keep]

    def _absorb(self, part: BulkPart) -> None:
        """Append the papers of a part `collect` gave (`_building`): its terms mapped to this vocabulary's ids
        (new ones interned in the part's order), its paper numbers after this index's."""
        first = len(self._alive)
        self._compacted = False
        ids = np.fromiter(map(self._vocab.intern, part.terms), np.int32, len(part.terms))
        for data, ends, text, text_ends in (
            (self._titles, self._title_ends, part.titles, part.title_ends),
            (self._keys, self._key_ends, part.keys, part.key_ends),
        ):
            ends.frombytes((np.asarray(text_ends, np.int64) + len(data)).tobytes())
            data += text
        self._alive += b"\x01" * len(part)
        self._live += len(part)
        for field, (terms, docs) in zip(self._fields, part.pairs, strict=True):
            field.collect_many(ids[terms], docs + np.int32(first))

    def _kill(self, doc: int, arxiv_id: str) -> None:
        self._alive[doc] = 0
        self._live -= 1
        self._new_keys.pop(arxiv_id, None)

    def _title(self, doc: int) -> str:
        return self._titles[self._title_ends[doc] : self._title_ends[doc + 1]].decode()

    def _key(self, doc: int) -> str:
        return self._keys[self._key_ends[doc] : self._key_ends[doc + 1]].decode()

    def _doc_of(self, arxiv_id: str) -> int | None:
        doc = self._new_keys.get(arxiv_id)
        if doc is not None:
            return doc
        wanted = string_hash(arxiv_id.encode())
        at = int(np.searchsorted(self._key_hash, wanted))
        while at < len(self._key_hash) and self._key_hash[at] == wanted:
            doc = int(self._key_doc[at])
            if self._alive[doc] and self._key(doc) == arxiv_id:
                return doc
            at += 1
        return None

    def _freeze_keys(self, alive: np.ndarray) -> None:
        """Index papers' ids by hash in two sorted arrays (~12 bytes a paper instead of a dict's ~140); a bulk
        build that named one paper twice keeps its last version."""
        docs = np.flatnonzero(alive).astype(np.int32)
        hashes = bytes_hashes(self._keys, np.frombuffer(self._key_ends, np.int64)[1:])[docs]
        order = np.argsort(hashes, kind="stable")  # equal hashes keep doc order: the older copy comes first
        self._key_hash, self._key_doc = hashes[order], docs[order]
        self._new_keys = {}
        for at in np.flatnonzero(np.diff(self._key_hash) == 0).tolist():
            older, newer = int(self._key_doc[at]), int(self._key_doc[at + 1])
            key = self._key(older)
            if self._alive[older] and key == self._key(newer):
                self._kill(older, key)


def give_back_memory() -> None:
    """Return the heap's free pages to the system (glibc's `malloc_trim`). A compaction or a snapshot's save frees
    hundreds of MB of temporaries, much of it in blocks malloc keeps (at a million papers ~130 MB of the
    process's RSS after a build); elsewhere (no glibc) nothing is done."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def _best_first(coverage: np.ndarray, count: int) -> np.ndarray:
    """Positions of the `count` highest coverages, highest first (ties by position), without sorting them all."""
    if count < len(coverage):
        top = np.argpartition(-coverage, count)[:count]
        return top[np.lexsort((top, -coverage[top]))]
    return np.argsort(-coverage, kind="stable")


def _chunks(docs: Iterable[SearchDoc], size: int) -> Iterator[list[SearchDoc]]:
    iterator = iter(docs)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {name[len(prefix) :]: array for name, array in arrays.items() if name.startswith(prefix)}


def _batch(docs: list[SearchDoc]) -> Batch:
    return Batch(
        [doc.arxiv_id for doc in docs],
        [doc.title for doc in docs],
        ["; ".join(doc.authors) if doc.authors else "" for doc in docs],
        [(n, doc.keywords, doc.abstract) for n, doc in enumerate(docs) if doc.keywords or doc.abstract],
    )


def _field_terms(doc: SearchDoc) -> tuple[set[str], set[str], set[str], set[str]]:
    """The terms of each field of `doc`, in FIELD_WEIGHTS' order."""
    authors = index_terms("; ".join(doc.authors)) if doc.authors else set()
    return (index_terms(doc.title), authors, *_rare_terms(doc.keywords, doc.abstract))


def _rare_terms(keywords: Sequence[str], abstract: str | None) -> tuple[set[str], set[str]]:
    """The terms of the HF keywords and of the abstract (ABSTRACT_TERMS of them at most)."""
    words = index_terms("; ".join(keywords)) if keywords else set()
    opening = index_terms(abstract) if abstract else set()
    if len(opening) > ABSTRACT_TERMS:
        opening = set(sorted(opening)[:ABSTRACT_TERMS])
    return words, opening
