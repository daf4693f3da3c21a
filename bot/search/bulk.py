"""Tokenising many papers at once for a bulk build: the terms `text.index_terms` finds, as flat arrays.

Per paper, tokenising costs a regex call, a set and a list per field (~20 us a paper, most of a million-paper
build). Here a chunk of texts is joined with a separator and read by one regex call; terms are turned into ids
by one C-level `map` over the vocabulary's dict, and only the tokens it does not know (separators, stopwords,
new terms) are looked at in Python. A paper naming a term twice gives two pairs: `Postings.freeze` drops the
repeat, so the postings are those of `index_terms`.

    >>> from bot.search.vocab import Vocabulary
    >>> vocab = Vocabulary()
    >>> terms, texts = text_pairs(["LLaMA-Adapter for Models", "", "Models of models"], vocab)
    >>> sorted((vocab.terms[t], n) for t, n in zip(terms.tolist(), texts.tolist()))
    [('adapter', 0), ('llama', 0), ('llamaadapter', 0), ('models', 0), ('models', 2), ('models', 2)]
"""

from __future__ import annotations

import re
from itertools import repeat

import numpy as np

from bot.search.text import _COMPOUND, _COMPOUND_GLUE, STOPWORDS, normalize
from bot.search.vocab import Vocabulary

SEPARATOR = "\x00"  # never part of a word, never in normalised text as a word
_TOKEN = re.compile(r"[^\W_]+|\x00")
_UNKNOWN, _SKIP, _BOUNDARY = -1, -2, -3
# ASCII letters and digits (lower case: the text is normalised) and the separator kept, anything else a space.
_ASCII_WORDS = bytes(byte if chr(byte) in "0123456789abcdefghijklmnopqrstuvwxyz\0" else 32 for byte in range(256))


def text_pairs(texts: list[str], vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """(term id, index in `texts`) of every term `index_terms` finds in each text, new terms given ids."""
    normal = [text.lower() if text.isascii() else normalize(text) for text in texts]
    joined = SEPARATOR.join(normal) + SEPARATOR
    if joined.count(SEPARATOR) != len(normal):  # a text holding the separator itself: it only ends a word
        normal = [text.replace(SEPARATOR, " ") for text in normal]
        joined = SEPARATOR.join(normal) + SEPARATOR
    if joined.isascii():  # most chunks: bytes.translate and split read it five times faster than the regex
        tokens = joined.encode().translate(_ASCII_WORDS).replace(b"\0", b" \0 ").decode().split()
    else:
        tokens = _TOKEN.findall(joined)
    ids = np.fromiter(map(vocab.ids_get, tokens, repeat(_UNKNOWN)), np.int64, len(tokens))
    for at in np.flatnonzero(ids == _UNKNOWN).tolist():
        token = tokens[at]
        if token == SEPARATOR:
            ids[at] = _BOUNDARY
        elif token in STOPWORDS:
            ids[at] = _SKIP
        else:
            ids[at] = vocab.intern(token)
    boundary = ids == _BOUNDARY
    owner = np.cumsum(boundary) - boundary
    keep = ids >= 0
    terms, owners = ids[keep], owner[keep]
    flagged = [n for n, text in enumerate(normal) if "-" in text or "'" in text or not text.isascii()]
    compounds = [(n, _COMPOUND_GLUE.sub("", found)) for n in flagged for found in _COMPOUND.findall(normal[n])]
    if compounds:  # hyphenated names, also indexed joined (as `index_terms` does)
        extra = np.array([vocab.intern(term) for _, term in compounds], np.int64)
        terms = np.concatenate([terms, extra])
        owners = np.concatenate([owners, np.array([n for n, _ in compounds], np.int64)])
    return terms.astype(np.int32), owners.astype(np.int32)
