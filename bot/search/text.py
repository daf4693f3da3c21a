"""How the search engine reads text: one normalisation and one tokenizer for papers and queries alike."""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.utils import default_process

# Words too common to tell titles apart. They are left out of the index (a large share of its postings) but
# kept in the text that the final fuzzy rescoring compares, so "Attention Is All You Need" still ranks first.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "the",
        "to",
        "via",
        "vs",
        "with",
    ]
)

_WORD = re.compile(r"[^\W_]+")
# Hyphenated names ("LLaMA-Adapter", "Mamba-2") are also indexed joined, as people type them either way.
_COMPOUND = re.compile(r"[^\W_]+(?:[-‐–'’][^\W_]+)+")
_COMPOUND_GLUE = re.compile(r"[-‐–'’]")


def normalize(text: str) -> str:
    """Casefolded, accents stripped: `normalize("Schölkopf") == "scholkopf"`."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    if decomposed.isascii():  # no combining marks left to drop (the common case: accented Latin letters)
        return decomposed.lower()
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """The words of `text` in order, stopwords included: `words("Mamba-2: Fast!") == ["mamba", "2", "fast"]`."""
    return _WORD.findall(normalize(text))


def index_terms(text: str) -> set[str]:
    """The distinct terms a paper is found by: words without stopwords, plus hyphenated names joined.

    >>> sorted(index_terms("LLaMA-Adapter: Efficient Fine-tuning of Language Models"))
    ['adapter', 'efficient', 'fine', 'finetuning', 'language', 'llama', 'llamaadapter', 'models', 'tuning']
    """
    normal = normalize(text)
    terms = {w for w in _WORD.findall(normal) if w not in STOPWORDS}
    if "-" in normal or "'" in normal or not normal.isascii():
        terms.update(_COMPOUND_GLUE.sub("", m) for m in _COMPOUND.findall(normal))
    return terms


def comparable(text: str) -> str:
    """The form the fuzzy rescoring compares: normalised, anything but letters and digits a space."""
    return default_process(normalize(text))


def max_typos(word: str) -> int:
    """How many typos a query word may carry and still match: none up to 3 letters, 1 up to 7, then 2."""
    if len(word) <= 3:
        return 0
    return 1 if len(word) <= 7 else 2


def deletes(word: str) -> list[str]:
    """`word` and every string one letter shorter: two words within one typo share one of these (SymSpell).

    >>> deletes("lora")
    ['lora', 'ora', 'lra', 'loa', 'lor']
    """
    return [word, *(word[:i] + word[i + 1 :] for i in range(len(word)))]
