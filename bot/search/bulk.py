"""Tokenising many papers at once for a bulk build: the terms `text.index_terms` finds, as flat arrays.

Per paper, tokenising costs a regex call, a set and a list per field (~20 us a paper, most of a million-paper
build). Here a chunk of texts is lower-cased, joined with a separator and split by one `bytes.translate`; terms
are turned into ids by one C-level `map` over the vocabulary's dict (which, for the build, also maps the
separator and the stopwords to markers), and only new terms are looked at in Python. Hyphenated names are found
by one regex pass over the chunk. The rare text that is not ASCII once normalised (Greek letters, symbols) is
tokenised on its own by `index_terms`. A paper naming a term twice gives two pairs: `Postings.freeze` drops the
repeat, so the postings are those of `index_terms`.

    >>> from bot.search.vocab import Vocabulary
    >>> vocab = Vocabulary()
    >>> terms, texts = text_pairs(["LLaMA-Adapter for Models", "", "Models of models"], vocab)
    >>> sorted((vocab.terms[t], n) for t, n in zip(terms.tolist(), texts.tolist()))
    [('adapter', 0), ('llama', 0), ('llamaadapter', 0), ('models', 0), ('models', 2), ('models', 2)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat

import msgspec
import numpy as np

from bot.search.text import STOPWORDS, index_terms, normalize
from bot.search.vocab import Vocabulary

SEPARATOR = "\x00"  # never part of a word, never in normalised text as a word
_UNKNOWN, _SKIP, _BOUNDARY = -1, -2, -3
MARKERS = {SEPARATOR: _BOUNDARY} | dict.fromkeys(STOPWORDS, _SKIP)
# ASCII letters and digits (lower case: the text is normalised) and the separator kept, anything else a space.
_ASCII_WORDS = bytes(byte if chr(byte) in "0123456789abcdefghijklmnopqrstuvwxyz\0" else 32 for byte in range(256))
_WORD_BYTE = np.array([chr(byte) in "0123456789abcdefghijklmnopqrstuvwxyz" for byte in range(256)])
_GLUE_BYTE = np.array([chr(byte) in "-'" for byte in range(256)])
_NO_KEYWORDS = {"[]", "null"}


@dataclass(slots=True)
class Batch:
    """Papers to index in bulk, by column: ids, titles, author texts (names joined by "; ", or the authors'
    JSON list as the database holds it: see `author_text`), and the few papers with keywords or an abstract
    as (position in the batch, keywords, abstract)."""

    keys: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    rare: list[tuple[int, Sequence[str], str | None]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def of_rows(cls, rows: Sequence[tuple[str, str | None, str | None, str | None, str | None]]) -> Batch:
        """The batch of papers read as (arxiv_id, title, authors' JSON, keywords' JSON, abstract)."""
        decode = msgspec.json.decode
        return cls(
            [row[0] for row in rows],
            [row[1] or "" for row in rows],
            list(map(author_text, [row[2] for row in rows])),
            [
                (n, decode(keywords) or () if keywords else (), abstract)
                for n, (_, _, _, keywords, abstract) in enumerate(rows)
                if abstract or (keywords and keywords not in _NO_KEYWORDS)
            ],
        )


def author_text(stored: str | None) -> str:
    """The text to tokenise for a JSON list of author names: the JSON itself when it holds no escape (its
    brackets, quotes and commas separate words as "; " does), else the names decoded and joined."""
    if not stored:
        return ""
    if "\\" not in stored:
        return stored
    return "; ".join(msgspec.json.decode(stored))


def text_pairs(texts: list[str], vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """(term id, index in `texts`) of every term `index_terms` finds in each text, new terms given ids."""
    joined = SEPARATOR.join(texts)
    odd: list[int] = []  # texts still not ASCII once normalised: tokenised one by one
    if joined.isascii() and joined.count(SEPARATOR) == len(texts) - 1:
        joined = joined.lower()
    else:
        normal = [text.lower() if text.isascii() else normalize(text) for text in texts]
        for n, text in enumerate(normal):
            if not text.isascii():
                odd.append(n)
                normal[n] = ""
            elif SEPARATOR in text:  # only ends a word, as a space does
                normal[n] = text.replace(SEPARATOR, " ")
        joined = SEPARATOR.join(normal)
    data = (joined + SEPARATOR).encode()
    tokens = data.translate(_ASCII_WORDS).replace(b"\0", b" \0 ").decode().split()
    with vocab.marked(MARKERS) as lookup:
        ids = np.fromiter(map(lookup, tokens, repeat(_UNKNOWN)), np.int64, len(tokens))
    for at in np.flatnonzero(ids == _UNKNOWN).tolist():
        ids[at] = vocab.intern(tokens[at])
    boundary = ids == _BOUNDARY
    owner = np.cumsum(boundary) - boundary
    keep = ids >= 0
    terms, owners = [ids[keep]], [owner[keep]]
    if "-" in joined or "'" in joined:  # hyphenated names, also indexed joined (as `index_terms` does)
        starts, ends, text_of = _compounds(data)
        compounds = [
            data[a:b].translate(None, b"'-").decode() for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
        ]
        terms.append(np.fromiter(map(vocab.intern, compounds), np.int64, len(compounds)))
        owners.append(text_of)
    for n in odd:  # in sorted order: new terms get the same ids in every process (a set's order is not)
        extra = [vocab.intern(term) for term in sorted(index_terms(texts[n]))]
        terms.append(np.array(extra, np.int64))
        owners.append(np.full(len(extra), n, np.int64))
    return np.concatenate(terms).astype(np.int32), np.concatenate(owners).astype(np.int32)


def _compounds(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where `text._COMPOUND` matches in lower-case ASCII `data` (texts ended by NUL): runs of words joined by
    single hyphens or apostrophes, found with a few array operations instead of a regex scan of every
    character. Returns their starts, ends and the index of the text each is in."""
    codes = np.frombuffer(data, np.uint8)
    word, glue = _WORD_BYTE[codes], _GLUE_BYTE[codes]
    joins = np.zeros(len(codes), bool)
    joins[1:-1] = glue[1:-1] & word[:-2] & word[2:]
    edges = np.diff((word | joins).astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    joined = np.concatenate(([0], np.cumsum(joins)))
    compound = joined[ends] > joined[starts]
    starts, ends = starts[compound], ends[compound]
    return starts, ends, np.searchsorted(np.flatnonzero(codes == 0), starts)
