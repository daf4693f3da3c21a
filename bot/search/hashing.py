"""Stable string hashes for the index's typo tables and paper ids: the same in every process, so a saved index
(bot/search/snapshot.py) stays valid when another process loads it. Python's own `hash(str)` is salted per process.

The hash is a polynomial over the string's units (code points for terms, UTF-8 bytes for ids) modulo 2**64,
finished by splitmix64's mixer. Being polynomial, the hashes of a term and of every string one letter shorter
(its SymSpell deletes) come from the term's prefix hashes in a few vectorised steps; `string_hash` is the same
function one string at a time, in plain Python, for queries and single papers.

    >>> string_hash("lora") == int(string_hashes(["lora"])[0])
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_MASK = (1 << 64) - 1
_BASE = 0x100000001B3  # odd: multiplication by it is a bijection modulo 2**64
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def string_hash(text: str | bytes) -> int:
    """The 64-bit hash of one string (over code points) or bytes (over bytes)."""
    units = text if isinstance(text, bytes) else map(ord, text)
    value = 0
    for unit in units:
        value = (value * _BASE + unit + 1) & _MASK
    return _mix(value)


def low32(value: int) -> int:
    """The 32 bits of a hash the typo tables keep."""
    return value >> 32


def string_hashes(texts: Sequence[str]) -> np.ndarray:
    """`string_hash` of each of `texts`, vectorised (uint64)."""
    units, lengths = _units(texts)
    prefixes, first = _prefixes(units, lengths)
    return _mix_array(prefixes[first + lengths])


def bytes_hashes(data: bytes | bytearray, ends: np.ndarray) -> np.ndarray:
    """`string_hash` of each slice `data[ends[i - 1]:ends[i]]` (ends[-1] is 0 for the first), vectorised."""
    ends = np.asarray(ends, np.int64)
    lengths = np.diff(ends, prepend=0)
    units = np.frombuffer(bytes(data[: int(ends[-1])]) if len(ends) else b"", np.uint8).astype(np.uint64)
    prefixes, first = _prefixes(units, lengths)
    return _mix_array(prefixes[first + lengths])


def delete_hashes(terms: Sequence[str], min_length: int) -> tuple[np.ndarray, np.ndarray]:
    """For each term of `min_length` code points or more: the 32-bit hashes of the term and of each string one
    letter shorter (as `text.deletes` lists them), with the index of the term each belongs to. Laid out as the
    kept terms' own hashes, then each kept term's deletes, term after term.

    Worked out for the terms of one length at a time, as a (length x terms) grid of their units: every step is
    an operation on a contiguous row, with no per-unit gathers (a million-term vocabulary's table in about a
    third of the time of working on the flat units)."""
    units, lengths = _units(terms)
    starts = np.cumsum(lengths) - lengths  # each term's first unit
    kept = np.flatnonzero(lengths >= min_length)
    kept_lengths = lengths[kept]
    # Where each kept term's deletes begin in the layout above.
    delete_starts = len(kept) + np.cumsum(kept_lengths) - kept_lengths
    out = np.empty(len(kept) + int(kept_lengths.sum()), np.uint64)
    base, one = np.uint64(_BASE), np.uint64(1)
    by_length = np.argsort(kept_lengths, kind="stable")
    bounds = np.searchsorted(kept_lengths[by_length], np.unique(kept_lengths), side="right")
    with np.errstate(over="ignore"):
        for group in np.split(by_length, bounds[:-1]) if len(kept) else []:
            length = int(kept_lengths[group[0]])
            grid = units[starts[kept[group]] + np.arange(length, dtype=np.int64)[:, None]]  # row k: the k-th units
            prefixes = np.zeros((length + 1, len(group)), np.uint64)  # row k: hashes of the first k units
            for k in range(length):
                prefixes[k + 1] = prefixes[k] * base + grid[k] + one
            whole = prefixes[length]
            out[group] = whole
            # Without unit i the term hashes to P[L] + (P[i] - P[i + 1]) * BASE**(L - 1 - i).
            powers = _powers(length)
            at = delete_starts[group]
            for i in range(length):
                out[at + i] = whole + (prefixes[i] - prefixes[i + 1]) * powers[length - 1 - i]
    hashes = _mix_array(out) >> np.uint64(32)
    owners = np.concatenate([kept, np.repeat(kept, kept_lengths)]).astype(np.int32)
    return hashes.astype(np.uint32), owners


def _units(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    joined = "".join(texts).encode("utf-32-le")
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    return np.frombuffer(joined, np.uint32).astype(np.uint64), lengths


def _prefixes(units: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prefix hashes of every string, laid out string after string (L + 1 values each, the first 0), and where
    each string's first one is. Computed position by position over the strings still that long: longest first,
    so those are always a prefix of the order."""
    count = len(lengths)
    starts = np.cumsum(lengths) - lengths
    first = starts + np.arange(count, dtype=np.int64)
    prefixes = np.zeros(len(units) + count, np.uint64)
    if count == 0:
        return prefixes, first
    order = np.argsort(-lengths, kind="stable")
    by_length = lengths[order]
    base = np.uint64(_BASE)
    one = np.uint64(1)
    with np.errstate(over="ignore"):
        for k in range(int(by_length[0])):
            active = order[: int(np.searchsorted(-by_length, -k, side="left"))]
            at = first[active] + k
            prefixes[at + 1] = prefixes[at] * base + units[starts[active] + k] + one
    return prefixes, first


def _powers(size: int) -> np.ndarray:
    out = np.ones(max(size, 1), np.uint64)
    with np.errstate(over="ignore"):
        for i in range(1, size):
            out[i] = out[i - 1] * np.uint64(_BASE)
    return out


def _mix(value: int) -> int:
    value ^= value >> 30
    value = (value * _M1) & _MASK
    value ^= value >> 27
    value = (value * _M2) & _MASK
    return value ^ (value >> 31)


def _mix_array(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        values = values ^ (values >> np.uint64(30))
        values = values * np.uint64(_M1)
        values = values ^ (values >> np.uint64(27))
        values = values * np.uint64(_M2)
        mixed: np.ndarray = values ^ (values >> np.uint64(31))
    return mixed
