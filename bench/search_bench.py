"""Benchmark paper search: the engine, brute-force rapidfuzz, pg_trgm, and loading through the service.

    .venv/bin/python bench/search_bench.py [--sizes 10000,100000,1000000] [--queries 300]
        [--backend sqlite|postgresql|both|none] [--brute N] [--admin-url URL] [--http-seconds 120]
        [--skip http,load,trgm]

For each size: generates realistic papers and typed queries (bench/search_corpus.py; a query whose words fit 5 or
more other titles as well is lengthened, as a person types more of such a title: how many were is printed), builds
the index from the in-memory papers (time, RSS added), runs every query through the engine (p50/p99 latency,
recall@5), runs a subsample through brute-force rapidfuzz with five scorers (the baseline: every title scored, top 5
kept), then per database backend stores the papers, starts the real bot on that database and sends every query as a
signed `/papers search` over HTTP (bench/search_http.py: index load time, ack and reply-at-response_url p50/p99),
loads the papers through SearchService in a subprocess (time, RSS added) and, on PostgreSQL, runs the queries
through pg_trgm's word_similarity with a GIN index. A query counts as found when a top-5 result has the wanted
paper's title (papers with the same title cannot be told apart by any query).
Scratch databases are created and dropped; everything stops by itself.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from rapidfuzz import fuzz, process, utils  # noqa: E402

from bench.search_corpus import Paper, Query, lengthening, papers, queries  # noqa: E402
from bot.search import SearchDoc, SearchIndex, SearchService  # noqa: E402

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGETS = "engine p99 <= 15 ms, recall@5 >= 0.95 and >= best brute force, build/load <= 30 s, added RSS <= 700 MB"
SCORERS: dict[str, Callable[..., float]] = {
    "WRatio": fuzz.WRatio,
    "token_set_ratio": fuzz.token_set_ratio,
    "token_sort_ratio": fuzz.token_sort_ratio,
    "partial_ratio": fuzz.partial_ratio,
    "QRatio": fuzz.QRatio,
}
HTTP_TARGET = "reply p99 <= 30 ms over HTTP at 1,000,000 papers"
TRGM_THRESHOLD = 0.3  # pg_trgm's default word_similarity_threshold (0.6) finds nothing for most typo'd queries


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(seconds: Sequence[float]) -> str:
    """p50 and p99 of a list of durations, in milliseconds."""
    values = np.array(seconds) * 1000
    return f"p50 {np.percentile(values, 50):6.2f} ms  p99 {np.percentile(values, 99):6.2f} ms"


def _doc(paper: Paper) -> SearchDoc:
    return SearchDoc(paper.arxiv_id, paper.title, paper.authors, paper.keywords, paper.abstract)


class Judge:
    """Whether a result list found a query's paper (by title, see the module docstring)."""

    def __init__(self, corpus: list[Paper]) -> None:
        self.title_of = {p.arxiv_id: utils.default_process(p.title) for p in corpus}

    def found(self, query: Query, ids: Sequence[str]) -> bool:
        wanted = self.title_of[query.target]
        return any(self.title_of.get(key) == wanted for key in ids)


def bench_engine(corpus: list[Paper], asked: list[Query], judge: Judge) -> tuple[SearchIndex, dict[str, object]]:
    """Build the index from memory, then time every query and count the papers found."""
    before = rss_mb()
    started, started_cpu = time.perf_counter(), time.process_time()
    index = SearchIndex.build(_doc(p) for p in corpus)
    build, build_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    added = rss_mb() - before
    index.search("warm up", 5)
    took, cpu, found, hit = [], [], 0, []
    for query in asked:
        start, start_cpu = time.perf_counter(), time.thread_time()
        hits = index.search(query.text, 5)
        took.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
        hit.append(judge.found(query, [h.arxiv_id for h in hits]))
        found += hit[-1]
    figures = {
        "build_s": build,
        "build_cpu_s": build_cpu,
        "rss_mb": added,
        "latency": percentiles(took),
        "cpu": percentiles(cpu),
    }
    return index, figures | {"recall": found / len(asked), "hit": hit}


def bench_oracle(corpus: list[Paper], asked: list[Query], hit: list[bool], index: SearchIndex) -> str:
    """What the recall means: the oracle's expected recall@5 on these queries (bench/search_misses.py: a query
    with 5 or more other titles satisfying it as well as the wanted one cannot be answered for sure by any
    engine), and the engine's recall on the answerable queries (fewer than 5 such rivals). The generator lengthens
    queries until they have fewer than 5 (bench/search_corpus.py), so the ceiling is about 1; this oracle counts
    again, independently, through the engine's postings."""
    from bench.search_misses import Oracle

    oracle = Oracle(corpus, index)
    position = {p.arxiv_id: n for n, p in enumerate(corpus)}
    rivals = [oracle.rivals(q, position[q.target])[1] for q in asked]
    ceiling = sum(min(1.0, 5 / (r + 1)) for r in rivals) / len(asked)
    answerable = [h for h, r in zip(hit, rivals, strict=True) if r < 5]
    recall = sum(answerable) / max(1, len(answerable))
    return (
        f"oracle's expected recall@5 on these queries (the ceiling of any engine) {ceiling:.3f}; engine recall@5"
        f" on the {len(answerable)} answerable queries (fewer than 5 rival titles) {recall:.3f}"
    )


def bench_brute(corpus: list[Paper], asked: list[Query], judge: Judge, index: SearchIndex) -> dict[str, float]:
    """Recall@5 of scoring every title with each rapidfuzz scorer, and of the engine on the same queries."""
    titles = [utils.default_process(p.title) for p in corpus]
    ids = [p.arxiv_id for p in corpus]
    recall: dict[str, float] = {}
    for name, scorer in SCORERS.items():
        found = 0
        for query in asked:
            scores = process.cdist(
                [utils.default_process(query.text)], titles, scorer=scorer, dtype=np.uint8, workers=2
            )
            top = np.argpartition(-scores[0].astype(np.int16), 5)[:5]
            found += judge.found(query, [ids[i] for i in top])
        recall[name] = found / len(asked)
    recall["paperbot (same queries)"] = sum(
        judge.found(q, [h.arxiv_id for h in index.search(q.text, 5)]) for q in asked
    ) / len(asked)
    return recall


def http_figures(database_url: str, asked: list[Query], judge: Judge, limit_s: float) -> str:
    """p50/p99 of `/papers search` through the bot's signed HTTP endpoint (bench/search_http.py)."""
    from bench.search_http import measure

    got = measure(database_url, asked, judge.found, limit_s=limit_s)
    lines = [
        f"bot's search index loaded in {got.load_s:.1f} s (from touching deps.search to deps.search.ready),"
        f" settled {got.settle_s:.1f} s later (snapshot saved, first poll applied); the commands are sent after that",
        f"{got.sent} `/papers search` commands over signed HTTP, one at a time"
        + (f" (stopped at the {limit_s:.0f} s limit)" if got.stopped_early else ""),
        f"  answer (in the ack, else at the response_url: what a person waits for): {percentiles(got.replies or [0.0])}"
        f"  ({len(got.replies)} answers, {got.answered_in_ack} of them in the ack, {got.lost} lost)",
        f"  ack HTTP round trip:                                                  {percentiles(got.acks or [0.0])}",
        f"  recall@5 in the answers {got.found / max(1, len(got.replies)):.3f}; target: {HTTP_TARGET}",
    ]
    return "\n".join(lines)


def store(database_url: str, corpus: list[Paper]) -> float:
    """Migrate a fresh database and store the corpus with the real upsert; returns seconds."""
    from datetime import date

    from storage.db import make_engine, make_sessions, upgrade
    from storage.papers import upsert_papers
    from storage.records import PaperRecord

    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_sessions(engine)
    started = time.perf_counter()
    for start in range(0, len(corpus), 5000):
        records = [
            PaperRecord(
                p.arxiv_id,
                p.title,
                list(p.authors),
                abstract=p.abstract or f"An abstract about {p.title}. " * 8,
                ai_keywords=list(p.keywords),
                daily_date=date(2024, 1, 1) if p.keywords else None,
                source="hf" if p.keywords else "snapshot",
            )
            for p in corpus[start : start + 5000]
        ]
        with sessions.begin() as session:
            upsert_papers(session=session, records=records)
    took = time.perf_counter() - started
    if engine.dialect.name == "postgresql":
        # What autovacuum does within a minute of a million inserts (statistics, visibility map); run now, so
        # that the figures after this are not of autovacuum's pass over the table.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE papers")
    engine.dispose()
    return took


def load_through_service(database_url: str) -> dict[str, float]:
    """SearchService.warm() in a subprocess (so its RSS is its own) with an empty snapshot folder: it builds
    from the database and saves its snapshot; then in another subprocess, the restart: the load from that
    snapshot. Returns seconds, CPU seconds and RSS added of both."""
    with tempfile.TemporaryDirectory(prefix="search-bench-cache-") as cache:
        figures: dict[str, float] = {}
        for step in ("build", "snapshot"):
            out = subprocess.run(
                [sys.executable, __file__, "--load-only", database_url, "--cache", cache],
                capture_output=True,
                text=True,
                check=True,
            )
            got = json.loads(out.stdout.strip().splitlines()[-1])
            figures |= {f"{step}_{name}": value for name, value in got.items()}
    return figures


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _load_only(database_url: str, cache: str) -> None:
    from storage.db import make_engine, make_sessions

    records = _Records()
    logging.getLogger("bot.search.service").addHandler(records)
    logging.getLogger("bot.search.service").setLevel(logging.INFO)
    engine = make_engine(database_url)
    before = rss_mb()
    started, started_cpu = time.perf_counter(), time.process_time()
    service = SearchService(make_sessions(engine), cache=Path(cache))
    count = service.warm()
    took, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    helper = resource.getrusage(resource.RUSAGE_CHILDREN)  # the build's helper process, if it had one
    added = rss_mb() - before  # measured while `service` still holds its index
    assert service.search("warm up", 1) is not None
    saved = [r for r in records.records if r.getMessage().startswith("search index: snapshot of")]
    save_s = float(saved[0].args[2]) if saved and isinstance(saved[0].args, tuple) else 0.0  # type: ignore[arg-type]
    figures = {"papers": count, "load_s": took, "cpu_s": cpu, "rss_mb": added, "save_s": save_s}
    figures |= {"helper_cpu_s": helper.ru_utime + helper.ru_stime, "helper_rss_mb": helper.ru_maxrss / 1024}
    print(json.dumps(figures))


def bench_trgm(database_url: str, asked: list[Query], judge: Judge) -> dict[str, object]:
    """pg_trgm: a GIN trigram index on titles, queried with word_similarity (the `<%` operator uses the index)."""
    import psycopg

    from storage.db import database_url as parse

    conninfo = parse(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        started = time.perf_counter()
        conn.execute("CREATE INDEX papers_title_trgm ON papers USING gin (title gin_trgm_ops)")
        built = time.perf_counter() - started
        conn.execute(f"SET pg_trgm.word_similarity_threshold = {TRGM_THRESHOLD}")
        sql = "SELECT arxiv_id FROM papers WHERE %(q)s <%% title ORDER BY word_similarity(%(q)s, title) DESC LIMIT 5"
        took, found = [], 0
        for query in asked:
            start = time.perf_counter()
            rows = conn.execute(sql, {"q": query.text}).fetchall()
            took.append(time.perf_counter() - start)
            found += judge.found(query, [r[0] for r in rows])
    return {"index_s": built, "latency": percentiles(took), "recall": found / len(asked)}


def scratch_database(backend: str, admin_url: str, size: int) -> tuple[str, Callable[[], None]]:
    """A fresh database URL and the function that drops it."""
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="search-bench-")
        path = Path(folder) / "bench.db"

        def drop_file() -> None:
            for leftover in Path(folder).iterdir():
                leftover.unlink()
            os.rmdir(folder)

        return f"sqlite:///{path}", drop_file
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"paperbot_search_bench_{os.getpid()}_{size}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop_database() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop_database


def run_size(size: int, args: argparse.Namespace) -> None:
    """Build one corpus size and print its figures."""
    print(f"\n== {size:,} papers ==", flush=True)
    print(f"load average now {os.getloadavg()[0]:.2f}", flush=True)
    started = time.perf_counter()
    corpus = list(papers(size))
    generated, started_cpu = time.perf_counter(), time.process_time()
    asked = queries(corpus, args.queries)
    judge = Judge(corpus)
    print(
        f"corpus generated in {generated - started:.1f} s; {len(asked)} queries in"
        f" {time.perf_counter() - generated:.1f} s (CPU {time.process_time() - started_cpu:.1f} s)",
        flush=True,
    )
    print(f"  {lengthening(asked)}", flush=True)
    index, engine = bench_engine(corpus, asked, judge)
    print(
        f"engine build (from memory): {engine['build_s']:.1f} s (CPU {engine['build_cpu_s']:.1f} s),"
        f" RSS +{engine['rss_mb']:.0f} MB",
        flush=True,
    )
    print(f"engine search: {engine['latency']}  recall@5 {engine['recall']:.3f}", flush=True)
    print(f"engine search CPU time (what other load on the machine does not inflate): {engine['cpu']}", flush=True)
    print(f"  {bench_oracle(corpus, asked, engine['hit'], index)}", flush=True)  # type: ignore[arg-type]
    brute_n = min(len(asked), args.brute or max(30, int(30_000_000 / size)))
    sub = asked[:brute_n]
    note = "" if brute_n == len(asked) else f" (a subsample: brute force is slow at {size:,})"
    print(f"brute force over every title, {brute_n} queries{note}:", flush=True)
    for name, recall in bench_brute(corpus, sub, judge, index).items():
        print(f"  recall@5 {name:<24} {recall:.3f}", flush=True)
    del index
    backends = {"both": ["sqlite", "postgresql"], "none": []}.get(args.backend, [args.backend])
    for backend in backends:
        url, drop = scratch_database(backend, args.admin_url, size)
        try:
            stored = store(url, corpus)
            print(f"[{backend}] stored {size:,} papers in {stored:.1f} s", flush=True)
            for line in [] if "http" in args.skip else http_figures(url, asked, judge, args.http_seconds).splitlines():
                print(f"[{backend}] http: {line}", flush=True)
            if "load" in args.skip:
                continue
            loaded = load_through_service(url)
            print(
                f"[{backend}] service load of {loaded['build_papers']:,.0f} papers from the database:"
                f" {loaded['build_load_s'] - loaded['build_save_s']:.1f} s, then its snapshot saved in"
                f" {loaded['build_save_s']:.1f} s (CPU {loaded['build_cpu_s']:.1f} s of this process for both,"
                f" {loaded['build_helper_cpu_s']:.1f} s of its helper process), RSS +{loaded['build_rss_mb']:.0f} MB"
                f" (the helper's peak RSS {loaded['build_helper_rss_mb']:.0f} MB)",
                flush=True,
            )
            print(
                f"[{backend}] service load at the next start, from the snapshot (then caught up):"
                f" {loaded['snapshot_load_s']:.1f} s (CPU {loaded['snapshot_cpu_s']:.1f} s),"
                f" RSS +{loaded['snapshot_rss_mb']:.0f} MB",
                flush=True,
            )
            if backend == "postgresql" and "trgm" not in args.skip:
                trgm = bench_trgm(url, asked, judge)
                print(
                    f"[{backend}] pg_trgm word_similarity (GIN, threshold {TRGM_THRESHOLD}): {trgm['latency']}"
                    f"  recall@5 {trgm['recall']:.3f}  (index built in {trgm['index_s']:.1f} s)",
                    flush=True,
                )
        finally:
            drop()


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark for every size asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both", "none"], default="both")
    parser.add_argument("--brute", type=int, default=0, help="queries run by brute force (default: by size)")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--http-seconds", type=float, default=120.0, help="time limit of the HTTP commands per size")
    parser.add_argument(
        "--skip", default="", help="parts left out, comma-separated: http, load, trgm (on a busy machine, for time)"
    )
    parser.add_argument("--load-only", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_only:
        _load_only(args.load_only, args.cache)
        return
    print(f"targets: {TARGETS}, {HTTP_TARGET}")
    print("baseline: brute-force rapidfuzz (each scorer over every title, default_process) and pg_trgm")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    for size in (int(s) for s in args.sizes.split(",")):
        run_size(size, args)


if __name__ == "__main__":
    main()
