"""Benchmark `paperbot import`: N synthetic arXiv snapshot records into SQLite and PostgreSQL.

    .venv/bin/python bench/import_bench.py [--records 1000000] [--backend sqlite|postgresql|both] [--twice]
        [--parse-process auto|on|off] [--no-ceiling]

Writes the records (realistic sizes: ~1 KB abstract, several authors, versions, categories) to a temporary JSON
lines file, then imports them with the real import code (bot.sources.importers.import_paths) into a fresh,
migrated database: a temporary SQLite file, and a scratch PostgreSQL database created and dropped on the admin
URL. Each import runs in its own subprocess so its peak RSS (getrusage ru_maxrss) is its own. Prints records/s,
seconds and peak RSS (the import process and its parsing process) next to the targets of issue #3 and the
figures before the import was reworked, with the load average (other work on the machine skews the rates).

Rates differ between machines (and between days on a shared one) by a factor of two, so each backend is first
timed bare, as the baseline this machine can do today: the same file's rows, parsed and converted beforehand
(untimed), written by the driver alone (executemany on SQLite, COPY on PostgreSQL), a transaction per batch,
into a fresh database with the same schema. Each import is then also shown as a share of that ceiling.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_RATE = {"sqlite": 20_000, "postgresql": 10_000}
TARGET_RSS_MB = 500
# What this benchmark printed before the import was reworked (1,000,000 records, a shared 2-core machine).
BEFORE_RATE = {"sqlite": 13_001, "postgresql": 9_238}
BEFORE_REIMPORT_RATE = {"sqlite": 13_228, "postgresql": 9_924}
PARSE_PROCESS = {"auto": None, "on": True, "off": False}
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

WORD_TEXT = (
    "we propose a novel transformer model for language vision diffusion reinforcement learning benchmark "
    "attention layer training data scaling inference efficient robust results show that our method "
    "outperforms baselines on tasks with fewer parameters and lower latency while retaining accuracy "
    "$\\alpha$ $O(n^2)$ \\emph{sparse} gradient token agent reasoning retrieval alignment"
)
WORDS = WORD_TEXT.split()
CATEGORIES = ["cs.CL", "cs.LG", "cs.CV", "cs.AI", "stat.ML", "hep-th", "math.OC", "quant-ph", "cs.RO"]
NAMES = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Katherine", "Leslie"]
SURNAMES = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "McCarthy", "Johnson"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _wrapped(words: list[str]) -> str:
    """Words hard-wrapped at ~80 columns, the way the snapshot stores titles and abstracts."""
    lines, line = [], ""
    for word in words:
        if len(line) + len(word) > 78:
            lines.append(line)
            line = ""
        line = f"{line} {word}" if line else word
    return "  " + "\n".join([*lines, line]) + "\n"


def synthetic_records(count: int, seed: int = 3) -> Iterator[dict[str, Any]]:
    """`count` snapshot-shaped records with distinct, valid new-style ids (YYMM.NNNNN from 1501 on)."""
    rng = random.Random(seed)
    # A pool of abstracts (about 1 KB each) keeps generation fast; records still differ in every other field.
    abstracts = [_wrapped(rng.choices(WORDS, k=150)) for _ in range(500)]
    for n in range(count):
        month, number = divmod(n, 99_999)
        yymm = f"{15 + month // 12:02d}{month % 12 + 1:02d}"
        authors = [(rng.choice(SURNAMES), rng.choice(NAMES), "") for _ in range(rng.randint(2, 8))]
        day = rng.randint(1, 28)
        versions = [
            {"version": f"v{v + 1}", "created": f"Mon, {day} {MONTHS[month % 12]} 20{yymm[:2]} 1{v}:18:42 GMT"}
            for v in range(rng.randint(1, 3))
        ]
        yield {
            "id": f"{yymm}.{number + 1:05d}",
            "submitter": authors[0][1] + " " + authors[0][0],
            "authors": ", ".join(f"{first} {last}" for last, first, _ in authors),
            "title": _wrapped(rng.choices(WORDS, k=rng.randint(6, 16))),
            "comments": f"{rng.randint(5, 40)} pages, {rng.randint(1, 12)} figures",
            "journal-ref": None if rng.random() < 0.7 else f"J. Synth. {rng.randint(1, 99)} (20{yymm[:2]})",
            "doi": None if rng.random() < 0.6 else f"10.{rng.randint(1000, 9999)}/synth.{n}",
            "report-no": None,
            "categories": " ".join(rng.sample(CATEGORIES, rng.randint(1, 3))),
            "license": "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
            "abstract": abstracts[n % len(abstracts)],
            "versions": versions,
            "update_date": f"20{yymm[:2]}-{yymm[2:]}-{day:02d}",
            "authors_parsed": [list(a) for a in authors],
        }


def write_snapshot(path: Path, count: int) -> None:
    """Write `count` synthetic records as JSON lines."""
    with path.open("w", encoding="utf-8") as out:
        for record in synthetic_records(count):
            out.write(json.dumps(record))
            out.write("\n")


def child(url: str, path: str, batch_size: int, parse_process: str) -> None:
    """Run in a subprocess: import `path` into `url` and print one JSON line of figures."""
    from bot.sources.importers import import_paths
    from storage.db import make_engine, make_sessions

    engine = make_engine(url)
    started = time.perf_counter()
    report = import_paths(
        [path],
        sessions=make_sessions(engine),
        batch_size=batch_size,
        progress=False,
        parallel=PARSE_PROCESS[parse_process],
    )
    seconds = time.perf_counter() - started
    engine.dispose()
    stats = report.stats
    # KiB on Linux; the parsing process (a child) counts too: the sum of the two peaks bounds the total.
    peak_mb = sum(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    print(
        json.dumps(
            {
                "read": report.read,
                "inserted": stats.inserted,
                "updated": stats.updated,
                "unchanged": stats.unchanged,
                "rejected": report.rejected_count,
                "seconds": seconds,
                "peak_mb": peak_mb,
            }
        )
    )


def ceiling_child(url: str, path: str, batch_size: int) -> None:
    """Run in a subprocess: write `path`'s records into `url` with the bare driver, timing only the writes, and
    print one JSON line of figures (the database's own speed on this machine, with no paperbot code in it)."""
    from bot.sources.import_files import SNAPSHOT
    from bot.sources.import_files import read_chunks as _parsed
    from storage.bulk import converter as _converter
    from storage.db import make_engine
    from storage.merge import RECORD_KEYS
    from storage.merge import record_values as _record_values
    from storage.models import utcnow
    from storage.papers import PAPERS

    engine = make_engine(url)
    keys = (*RECORD_KEYS, "created_at", "updated_at")
    raw = engine.raw_connection()
    driver = raw.driver_connection
    sqlite = engine.dialect.name == "sqlite"
    statement = f"INSERT INTO papers ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})"
    read, seconds = 0, 0.0
    for chunk in _parsed(Path(path), SNAPSHOT, batch_size):  # parsing and converting are not timed
        now = utcnow()
        columns = [list(c) for c in zip(*[(*_record_values(r), now, now) for r in chunk.records], strict=True)]
        for i, key in enumerate(keys):
            if columns and (convert := _converter(PAPERS, key, engine.dialect)):
                columns[i] = convert(columns[i])
        rows = list(zip(*columns, strict=True))
        started = time.perf_counter()
        if sqlite:
            driver.execute("BEGIN IMMEDIATE")
            driver.executemany(statement, rows)
            driver.execute("COMMIT")
        else:
            with driver.cursor() as cursor, cursor.copy(f"COPY papers ({', '.join(keys)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            driver.commit()
        seconds += time.perf_counter() - started
        read += len(rows)
    raw.close()
    engine.dispose()
    print(json.dumps({"read": read, "seconds": seconds}))


def run_ceiling(url: str, path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The bare-driver baseline, in a fresh interpreter."""
    command = [sys.executable, __file__, "--ceiling-child", url, str(path), "--batch-size", str(args.batch_size)]
    return _child("the bare-driver write", url, command)


def run_import(url: str, path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Import in a fresh interpreter so the peak RSS measured is the import's alone."""
    command = [
        sys.executable,
        __file__,
        "--child",
        url,
        str(path),
        "--batch-size",
        str(args.batch_size),
        "--parse-process",
        args.parse_process,
    ]
    return _child("the import", url, command)


def _child(what: str, url: str, command: list[str]) -> dict[str, Any]:
    """Run a --child or --ceiling-child command; its last line of output, as figures."""
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{what} into {url} failed:\n{done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def migrated(url: str) -> None:
    """Bring the database at `url` to the newest schema."""
    from storage.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def bench_backend(backend: str, path: Path, args: argparse.Namespace, scratch: Path) -> list[dict[str, Any]]:
    """The bare-driver ceiling into one fresh database of `backend`, then the import (and again with --twice)
    into another; the figures of each import."""
    ceiling = None
    if args.ceiling:
        with fresh_database(backend, "ceiling", args, scratch) as url:
            ceiling = show_ceiling(backend, run_ceiling(url, path, args))
    with fresh_database(backend, "import", args, scratch) as url:
        return [show(backend, run, run_import(url, path, args), ceiling) for run in range(1 + args.twice)]


@contextmanager
def fresh_database(backend: str, label: str, args: argparse.Namespace, scratch: Path) -> Iterator[str]:
    """The URL of a new, migrated database: a file in `scratch`, or a PostgreSQL database dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{scratch / f'{label}.db'}"
        migrated(url)
        yield url
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    name = f"paperbot_bench_{label}_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
        migrated(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def show_ceiling(backend: str, figures: dict[str, Any]) -> float:
    """Print the bare-driver baseline and return its rate."""
    rate: float = figures["read"] / figures["seconds"]
    how = "executemany" if backend == "sqlite" else "COPY"
    print(
        f"{backend:<10} {'ceiling':<9} {figures['read']:>10,} records {figures['seconds']:8.1f} s {rate:>9,.0f} rec/s"
        f" (the database alone today: the driver's {how} of rows prepared untimed, a commit per batch;"
        f" load average {_load()})",
        flush=True,
    )
    return rate


def show(backend: str, run: int, figures: dict[str, Any], ceiling: float | None = None) -> dict[str, Any]:
    """Print one run's figures next to the targets and the ceiling (as soon as it ends) and return them."""
    rate = figures["read"] / figures["seconds"]
    target = TARGET_RATE[backend]
    verdict = "ok" if rate >= target and figures["peak_mb"] <= TARGET_RSS_MB else "MISSED"
    label = "import" if run == 0 else "re-import"
    before = (BEFORE_RATE if run == 0 else BEFORE_REIMPORT_RATE)[backend]
    share = f", {rate / ceiling:.0%} of the ceiling" if ceiling else ""
    print(
        f"{backend:<10} {label:<9} {figures['read']:>10,} records {figures['seconds']:8.1f} s"
        f" {rate:>9,.0f} rec/s (target >= {target:,}; before {before:,}{share})"
        f"  peak RSS {figures['peak_mb']:6.0f} MB (target <= {TARGET_RSS_MB})"
        f"  inserted {figures['inserted']:,} unchanged {figures['unchanged']:,}  {verdict}  (load average {_load()})",
        flush=True,
    )
    return figures


def print_baseline(args: argparse.Namespace) -> None:
    """The targets of issue #3 and the figures before the import was reworked, to read the results against."""
    for backend in TARGET_RATE:
        print(
            f"{backend:<10} target >= {TARGET_RATE[backend]:,} rec/s and <= {TARGET_RSS_MB} MB peak RSS at"
            f" 1,000,000 records; before: {BEFORE_RATE[backend]:,} rec/s"
            f" (re-import {BEFORE_REIMPORT_RATE[backend]:,})"
        )
    print(f"load average {_load()} on {os.cpu_count()} CPUs; parse process: {args.parse_process}", flush=True)


def _load() -> str:
    return ", ".join(f"{n:.2f}" for n in os.getloadavg())


def main() -> None:
    """Parse the options and run the benchmark on each asked backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_ADMIN_URL", DEFAULT_ADMIN_URL),
        help="PostgreSQL URL used to create and drop the scratch database",
    )
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--twice", action="store_true", help="import the same file again (idempotent path)")
    parser.add_argument(
        "--parse-process",
        choices=list(PARSE_PROCESS),
        default="auto",
        help="parse in a second process: auto (files of 32 MB and more), on, off",
    )
    parser.add_argument(
        "--no-ceiling", dest="ceiling", action="store_false", help="skip the bare-driver baseline run of each backend"
    )
    parser.add_argument("--child", nargs=2, metavar=("URL", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--ceiling-child", nargs=2, metavar=("URL", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.batch_size, args.parse_process)
        return
    if args.ceiling_child:
        ceiling_child(args.ceiling_child[0], args.ceiling_child[1], args.batch_size)
        return
    print_baseline(args)
    with tempfile.TemporaryDirectory(prefix="paperbot-bench-") as tmp:
        scratch = Path(tmp)
        path = scratch / "snapshot.jsonl"
        started = time.perf_counter()
        write_snapshot(path, args.records)
        size_mb = path.stat().st_size / 1e6
        print(
            f"generated {args.records:,} records ({size_mb:,.0f} MB) in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
            bench_backend(backend, path, args, scratch)


if __name__ == "__main__":
    main()
