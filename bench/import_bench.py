"""Benchmark `paperbot import`: N synthetic arXiv snapshot records into SQLite and PostgreSQL.

    .venv/bin/python bench/import_bench.py [--records 1000000] [--backend sqlite|postgresql|both] [--twice]
        [--parse-process auto|on|off]

Writes the records (realistic sizes: ~1 KB abstract, several authors, versions, categories) to a temporary JSON
lines file, then imports them with the real import code (bot.sources.importers.import_paths) into a fresh,
migrated database: a temporary SQLite file, and a scratch PostgreSQL database created and dropped on the admin
URL. Each import runs in its own subprocess so its peak RSS (getrusage ru_maxrss) is its own. Prints records/s,
seconds and peak RSS (the import process and its parsing process) next to the targets of issue #3 and the
figures before the import was reworked, with the load average (other work on the machine skews the rates).
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
    report = import_paths([path], sessions=make_sessions(engine), batch_size=batch_size, progress=False,
                          parallel=PARSE_PROCESS[parse_process])
    seconds = time.perf_counter() - started
    engine.dispose()
    stats = report.stats
    # KiB on Linux; the parsing process (a child) counts too: the sum of the two peaks bounds the total.
    peak_mb = sum(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    print(json.dumps({"read": report.read, "inserted": stats.inserted, "updated": stats.updated,
                      "unchanged": stats.unchanged, "rejected": report.rejected_count,
                      "seconds": seconds, "peak_mb": peak_mb}))


def run_import(url: str, path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Import in a fresh interpreter so the peak RSS measured is the import's alone."""
    command = [sys.executable, __file__, "--child", url, str(path), "--batch-size", str(args.batch_size),
               "--parse-process", args.parse_process]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"import into {url} failed:\n{done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def migrated(url: str) -> None:
    from storage.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def bench_backend(backend: str, path: Path, args: argparse.Namespace, scratch: Path) -> list[dict[str, Any]]:
    """Import the file (and again with --twice) into a fresh database of `backend`; the figures of each run."""
    if backend == "sqlite":
        url = f"sqlite:///{scratch / 'bench.db'}"
        migrated(url)
        return [show(backend, run, run_import(url, path, args)) for run in range(1 + args.twice)]
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    name = f"paperbot_bench_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
        migrated(url)
        return [show(backend, run, run_import(url, path, args)) for run in range(1 + args.twice)]
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def show(backend: str, run: int, figures: dict[str, Any]) -> dict[str, Any]:
    """Print one run's figures next to the targets (as soon as it ends) and return them."""
    rate = figures["read"] / figures["seconds"]
    target = TARGET_RATE[backend]
    verdict = "ok" if rate >= target and figures["peak_mb"] <= TARGET_RSS_MB else "MISSED"
    label = "import" if run == 0 else "re-import"
    before = (BEFORE_RATE if run == 0 else BEFORE_REIMPORT_RATE)[backend]
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(
        f"{backend:<10} {label:<9} {figures['read']:>10,} records {figures['seconds']:8.1f} s"
        f" {rate:>9,.0f} rec/s (target >= {target:,}; before {before:,})"
        f"  peak RSS {figures['peak_mb']:6.0f} MB (target <= {TARGET_RSS_MB})"
        f"  inserted {figures['inserted']:,} unchanged {figures['unchanged']:,}  {verdict}  (load average {load})",
        flush=True,
    )
    return figures


def print_baseline(args: argparse.Namespace) -> None:
    """The targets of issue #3 and the figures before the import was reworked, to read the results against."""
    for backend in TARGET_RATE:
        print(f"{backend:<10} target >= {TARGET_RATE[backend]:,} rec/s and <= {TARGET_RSS_MB} MB peak RSS at"
              f" 1,000,000 records; before: {BEFORE_RATE[backend]:,} rec/s"
              f" (re-import {BEFORE_REIMPORT_RATE[backend]:,})")
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} CPUs; parse process: {args.parse_process}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL", DEFAULT_ADMIN_URL),
                        help="PostgreSQL URL used to create and drop the scratch database")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--twice", action="store_true", help="import the same file again (idempotent path)")
    parser.add_argument("--parse-process", choices=list(PARSE_PROCESS), default="auto",
                        help="parse in a second process: auto (files of 32 MB and more), on, off")
    parser.add_argument("--child", nargs=2, metavar=("URL", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.batch_size, args.parse_process)
        return
    print_baseline(args)
    with tempfile.TemporaryDirectory(prefix="paperbot-bench-") as tmp:
        scratch = Path(tmp)
        path = scratch / "snapshot.jsonl"
        started = time.perf_counter()
        write_snapshot(path, args.records)
        size_mb = path.stat().st_size / 1e6
        print(f"generated {args.records:,} records ({size_mb:,.0f} MB) in {time.perf_counter() - started:.1f} s",
              flush=True)
        for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
            bench_backend(backend, path, args, scratch)


if __name__ == "__main__":
    main()
