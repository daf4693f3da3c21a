"""Benchmark Slack event handling: reactions and thread replies through the bot's real HTTP endpoint.

    .venv/bin/python bench/events_bench.py [--events 2000] [--senders 8] [--rate 0] [--backend sqlite|postgresql|both]

Starts the real Bolt app behind the real HTTP server (as `paperbot serve --http` does) on a fresh, migrated
database (a temporary SQLite file; a scratch PostgreSQL database created and dropped on the admin URL), with the
loopback fake Slack for auth.test. Then sends `--events` signed events from `--senders` threads, as Slack's
servers would: reaction_added by distinct people on 20 paper posts and thread replies under them, each event
delivered twice (the second time with X-Slack-Retry-Num, as after a lost ack), as fast as they go or at `--rate`
deliveries a second. Prints the ack latency (what Slack's 3-second limit is about: each ack waits for the event's
inbox write), the events applied per second once the inbox's workers drained it, and checks the counts people
would see: every vote and reply exactly once.

Slack sends at most 30,000 events per workspace per hour (about 8 a second) before `app_rate_limited`.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.app import build_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.deps import Deps  # noqa: E402
from bot.inbox import Workers  # noqa: E402
from bot.server import HttpServer, make_wsgi  # noqa: E402
from storage.db import make_engine, make_sessions, upgrade  # noqa: E402
from storage.papers import upsert_papers  # noqa: E402
from storage.posts import record_post  # noqa: E402
from storage.records import PaperRecord  # noqa: E402
from storage.votes import paper_activity  # noqa: E402
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, FakeSlack, SlackSender  # noqa: E402

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTS = 20
SLACK_CAP_PER_SECOND = 30_000 / 3600


@contextmanager
def fresh_database(backend: str, admin_url: str, scratch: Path) -> Iterator[str]:
    """The URL of an empty, migrated database, removed afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{scratch / 'events.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    name = f"paperbot_events_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def paper_id(n: int) -> str:
    """The arXiv id of the benchmark's n-th paper."""
    return f"2501.{n:05d}"


def post_ts(n: int) -> str:
    """The Slack ts of the digest message that posted the n-th paper."""
    return f"1764150000.{n:06d}"


def make_events(count: int) -> list[dict[str, Any]]:
    """Half reactions, half thread replies, spread over the posts, each by its own person."""
    events: list[dict[str, Any]] = []
    for n in range(count):
        post, stamp = post_ts(n % POSTS), f"1764160000.{n:06d}"
        if n % 2:
            events.append(
                {
                    "type": "reaction_added",
                    "user": f"U{n:06d}",
                    "reaction": "+1",
                    "event_ts": stamp,
                    "item": {"type": "message", "channel": "C0001", "ts": post},
                }
            )
        else:
            events.append(
                {
                    "type": "message",
                    "channel": "C0001",
                    "user": f"U{n:06d}",
                    "text": "a reply",
                    "ts": stamp,
                    "thread_ts": post,
                    "event_ts": stamp,
                    "channel_type": "channel",
                }
            )
    return events


def run(backend: str, url: str, args: argparse.Namespace) -> None:
    """Start a bot on the database at `url`, send it every event twice and print how fast it recorded them."""
    slack = FakeSlack().start()
    engine = make_engine(url)
    settings = Settings(
        _env_file=None,
        database_url=url,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.url,
    )
    deps = Deps(settings=settings, engine=engine, sessions=make_sessions(engine))
    with deps.sessions.begin() as session:
        upsert_papers(
            session=session, records=[PaperRecord(arxiv_id=paper_id(n), title=f"Paper {n}") for n in range(POSTS)]
        )
        for n in range(POSTS):
            record_post(
                session=session, team_id=TEAM_ID, channel_id="C0001", ts=post_ts(n), arxiv_id=paper_id(n), kind="digest"
            )
    app = build_app(deps)
    server = HttpServer(make_wsgi(app, engine), "127.0.0.1", 0).start()
    workers = Workers(deps).start()
    senders = [SlackSender(server.url + "/slack/events") for _ in range(args.senders)]
    events = make_events(args.events)
    deliveries = [(n, retry) for n in range(len(events)) for retry in (None, 1)]
    latencies: list[float] = []

    def deliver(slot: int) -> None:
        n, retry = deliveries[slot]
        if args.rate:
            time.sleep(max(0.0, began + slot / args.rate - time.perf_counter()))
        began_one = time.perf_counter()
        response = senders[n % len(senders)].event(events[n], event_id=f"Ev{n:08d}", retry_num=retry)
        latencies.append(time.perf_counter() - began_one)
        assert response.status_code == 200, response.text

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.senders) as pool:
        list(pool.map(deliver, range(len(deliveries))))
    workers.drain(timeout=600)
    seconds = time.perf_counter() - began
    votes = replies = 0
    with deps.sessions.begin() as session:
        for n in range(POSTS):
            shown = paper_activity(session=session, team_id=TEAM_ID, arxiv_id=paper_id(n), vote_emoji=("+1",))
            votes, replies = votes + shown.votes, replies + shown.replies
    server.stop()
    workers.stop()
    deps.close()
    engine.dispose()
    slack.stop()
    for sender in senders:
        sender.close()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    counted = "exactly once" if (votes, replies) == (args.events // 2, args.events - args.events // 2) else "WRONG"
    print(
        f"{backend:10} {len(deliveries):6} deliveries ({args.events} events, each twice) in {seconds:6.2f}s:"
        f" {args.events / seconds:7.0f} events/s applied ({args.events / seconds / SLACK_CAP_PER_SECOND:.0f}x"
        f" Slack's cap); ack p50 {statistics.median(latencies) * 1000:5.1f} ms, p99 {p99 * 1000:6.1f} ms,"
        f" max {latencies[-1] * 1000:6.1f} ms; {votes} votes, {replies} replies: {counted}"
    )


def main() -> None:
    """Parse the options and run the benchmark on each asked backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=8, help="concurrent HTTP senders (Slack's side)")
    parser.add_argument("--rate", type=float, default=0, help="deliveries a second (0: as fast as they go)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL", DEFAULT_ADMIN_URL))
    args = parser.parse_args()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" lines are the point here
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        with tempfile.TemporaryDirectory() as scratch, fresh_database(backend, args.admin_url, Path(scratch)) as url:
            run(backend, url, args)


if __name__ == "__main__":
    main()
