"""The search index saved to a file, so a restart loads it in seconds instead of rebuilding it from every paper.

One file per database, named after where the database is, in the cache folder (PAPERBOT_SEARCH_CACHE; by
default next to a SQLite database). Layout: a magic line, the header's length and CRC-32, a JSON header (format
version, which database it was built from, the service's watermark, each array's type, shape, place and CRC-32),
then the arrays' raw bytes. Every array is checked against its CRC-32 as it is read, so a truncated or damaged
file is refused, never half-loaded. Files are written to a private temporary name (mode 0600), flushed, then
renamed over the old one: a reader, in this process or another replica sharing the folder, sees a whole file or
the previous one, and two writers at once leave one of their two whole files.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = b"paperbot-search\n"
FORMAT = 1  # bump when the index's arrays, their meaning, the tokeniser or the hashing change
_DTYPES = {"uint8", "int32", "int64", "uint32", "uint64"}  # what an index is made of; nothing else is read
_ALIGN = 64
ABANDONED_AFTER = 3600.0  # seconds after which a temporary file is taken for a killed writer's


class SnapshotError(Exception):
    """The snapshot cannot be used (missing, damaged, another format, another database); the message says why."""


def cache_folder(setting: str, database: str | None, dialect: str) -> Path | None:
    """Where snapshots go: PAPERBOT_SEARCH_CACHE's folder, or by default (an empty setting) the folder of a
    SQLite database file; None (no snapshot: build at every start) for `off`, or by default on PostgreSQL and
    for a SQLite database in memory."""
    if setting.strip().lower() == "off":
        return None
    if setting.strip():
        return Path(setting.strip()).expanduser()
    if dialect == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        return Path(database).expanduser().resolve().parent
    return None


def snapshot_path(folder: Path, where: str) -> Path:
    """The snapshot file of the database at `where` (a stable description of its location) in `folder`."""
    digest = hashlib.blake2b(where.encode(), digest_size=8).hexdigest()
    return folder / f"paperbot-search-{digest}.snapshot"


def write(path: Path, identity: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Save `arrays` with `meta` for the database `identity`, atomically (see the module docstring)."""
    entries: list[dict[str, Any]] = []
    offset = 0
    for name, array in arrays.items():
        if array.dtype.name not in _DTYPES:
            raise ValueError(f"array {name} is {array.dtype.name}")
        entries.append({"name": name, "dtype": array.dtype.name, "shape": list(array.shape), "offset": offset})
        offset += -(-array.nbytes // _ALIGN) * _ALIGN
    contiguous = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
    for entry in entries:
        entry["crc"] = zlib.crc32(contiguous[str(entry["name"])].data.cast("B"))
    header = json.dumps({"format": FORMAT, "identity": identity, "meta": meta, "arrays": entries}).encode()
    start = -(-(len(MAGIC) + 8 + len(header)) // _ALIGN) * _ALIGN
    _remove_abandoned(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(MAGIC + struct.pack("<II", len(header), zlib.crc32(header)) + header)
            for entry in entries:
                out.seek(start + int(entry["offset"]))
                out.write(contiguous[str(entry["name"])].data.cast("B"))
            out.truncate(start + offset)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _remove_abandoned(path: Path) -> None:
    """Delete temporary files of this snapshot that a writer killed mid-way left (untouched for an hour)."""
    for left in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if left.stat().st_mtime < time.time() - ABANDONED_AFTER:
                left.unlink()
        except OSError:  # another process removed or renamed it meanwhile
            continue


def read(path: Path, identity: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The meta and arrays saved for the database `identity`; SnapshotError if they cannot be used."""
    try:
        with path.open("rb") as source:
            return _read(source, identity)
    except FileNotFoundError:
        raise SnapshotError("no snapshot yet") from None
    except SnapshotError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(f"unreadable ({exc.__class__.__name__}: {exc})") from None


def _read(source: Any, identity: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    opening = source.read(len(MAGIC) + 8)
    if len(opening) < len(MAGIC) + 8 or not opening.startswith(MAGIC):
        raise SnapshotError("not a search snapshot")
    size, crc = struct.unpack("<II", opening[len(MAGIC) :])
    header = source.read(size)
    if len(header) != size or zlib.crc32(header) != crc:
        raise SnapshotError("damaged header")
    about = json.loads(header)
    if about.get("format") != FORMAT:
        raise SnapshotError(f"format {about.get('format')}, this version reads {FORMAT}")
    if about.get("identity") != identity:
        raise SnapshotError("built from another database (or the papers table was recreated)")
    start = -(-(len(MAGIC) + 8 + size) // _ALIGN) * _ALIGN
    size_on_disk = os.fstat(source.fileno()).st_size
    arrays = {}
    for entry in about["arrays"]:
        if entry["dtype"] not in _DTYPES:
            raise SnapshotError(f"array {entry['name']} has type {entry['dtype']}")
        dtype, shape = np.dtype(entry["dtype"]), tuple(int(n) for n in entry["shape"])
        if start + int(entry["offset"]) + dtype.itemsize * math.prod(shape) > size_on_disk:
            raise SnapshotError("truncated")
        array = np.empty(shape, dtype)
        view = array.data.cast("B")
        source.seek(start + int(entry["offset"]))
        if source.readinto(view) != array.nbytes:
            raise SnapshotError("truncated")
        if zlib.crc32(view) != entry["crc"]:
            raise SnapshotError(f"array {entry['name']} is damaged")
        arrays[str(entry["name"])] = array
    return dict(about["meta"]), arrays
