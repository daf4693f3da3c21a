"""Benchmark link unfurls: how long from a `link_shared` event to its `chat.unfurl`, for papers the team discussed.

    .venv/bin/python bench/unfurl_bench.py [--unfurls 200] [--rate 5] [--flood 2000] [--flood-rate 50]
        [--backend sqlite|postgresql|both]

Starts the real Bolt app behind the real HTTP server with its inbox workers, on a fresh, migrated database
(bench/events_bench.py's), and the loopback fake Slack. Stores 20 papers, each posted in a public channel with
three votes and two replies. Sends `--unfurls` signed link_shared events (two paper links each) at `--rate` a
second while `--flood` reactions and replies arrive from 4 other senders at `--flood-rate` a second (0: as fast
as they go; Slack's cap is about 8 a second), the inbox's work, and prints, per unfurl, the time from sending
the event to the fake Slack receiving its chat.unfurl: median, p95, max, and how many took longer than the 2 s
the feature promises.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.events_bench import DEFAULT_ADMIN_URL, POSTS, fresh_database, make_events, paper_id, post_ts  # noqa: E402
from bot.config import Settings  # noqa: E402
from storage.models import Reaction, Reply, Workspace  # noqa: E402
from storage.papers import upsert_papers  # noqa: E402
from storage.posts import record_post  # noqa: E402
from storage.records import PaperRecord  # noqa: E402
from tests.fakes.slack import BOT_TOKEN, BOT_USER_ID, SIGNING_SECRET, TEAM_ID, FakeSlack, SlackSender  # noqa: E402
from tests.running import running_bot  # noqa: E402

PROMISE = 2.0  # seconds from the event to the unfurl, for papers already stored


def seed(url: str, settings: Settings) -> None:
    """POSTS papers, each posted in C0001 with three votes and two replies."""
    from storage.db import make_engine, make_sessions

    engine = make_engine(url)
    with make_sessions(engine).begin() as session:
        session.add(Workspace(team_id=TEAM_ID, bot_user_id=BOT_USER_ID))
        upsert_papers(
            session=session, records=[PaperRecord(arxiv_id=paper_id(n), title=f"Paper {n}") for n in range(POSTS)]
        )
        for n in range(POSTS):
            ts, arxiv_id = post_ts(n), paper_id(n)
            record_post(session=session, team_id=TEAM_ID, channel_id="C0001", ts=ts, arxiv_id=arxiv_id, kind="digest")
            for user in ("UA", "UB", "UC"):
                session.add(
                    Reaction(
                        team_id=TEAM_ID, channel_id="C0001", message_ts=ts, user_id=user, emoji="+1", arxiv_id=arxiv_id
                    )
                )
            for k in (1, 2):
                session.add(
                    Reply(
                        team_id=TEAM_ID,
                        channel_id="C0001",
                        thread_ts=ts,
                        ts=f"{ts}{k}",
                        user_id="UD",
                        text=f"take {k}",
                        arxiv_id=arxiv_id,
                    )
                )
    engine.dispose()


def run(backend: str, url: str, args: argparse.Namespace) -> None:
    """Send the unfurls (and the flood) to a bot on `url`; print the latencies."""
    slack = FakeSlack().start()
    settings = Settings(
        _env_file=None,
        database_url=url,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.url,
    )
    seed(url, settings)
    sent_at: dict[str, float] = {}
    with running_bot(settings) as bot:
        endpoint = bot.url + "/slack/events"
        flooders = [SlackSender(endpoint) for _ in range(4)]
        flood = make_events(args.flood)
        stop = threading.Event()

        def flood_from(k: int) -> None:
            for n in range(k, len(flood), len(flooders)):
                if stop.is_set():
                    return
                if args.flood_rate:
                    time.sleep(max(0.0, began + n / args.flood_rate - time.perf_counter()))
                flooders[k].event(flood[n], event_id=f"EvF{n:08d}")

        sender = SlackSender(endpoint)
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(flooders)) as pool:
            for k in range(len(flooders)):
                pool.submit(flood_from, k)
            for n in range(args.unfurls):
                time.sleep(max(0.0, began + n / args.rate - time.perf_counter()))
                ts = f"1764170000.{n:06d}"
                links = [f"https://arxiv.org/abs/{paper_id((n + k) % POSTS)}" for k in (0, 7)]
                sent_at[ts] = time.monotonic()
                sender.event(
                    {
                        "type": "link_shared",
                        "channel": "C0002",
                        "user": "U0001",
                        "message_ts": ts,
                        "unfurl_id": ts,
                        "source": "conversations_history",
                        "links": [{"domain": "arxiv.org", "url": u} for u in links],
                    }
                )
            slack.wait_for(lambda: len(slack.calls_to("chat.unfurl")) >= args.unfurls, timeout=120)
            stop.set()
        bot.workers.drain(timeout=600)
        for client in (sender, *flooders):
            client.close()
    latencies = sorted(c.at - sent_at[c.params["ts"]] for c in slack.calls_to("chat.unfurl"))
    slack.stop()
    late = sum(1 for s in latencies if s > PROMISE)
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    print(
        f"{backend:10} {len(latencies)} unfurls at {args.rate:g}/s during {args.flood} inbox events"
        f" ({args.flood_rate:g}/s):"
        f" event → chat.unfurl p50 {statistics.median(latencies) * 1000:6.1f} ms, p95 {p95 * 1000:6.1f} ms,"
        f" max {latencies[-1] * 1000:6.1f} ms; over {PROMISE:g} s: {late}"
    )


def main() -> None:
    """Parse the options and run the benchmark on each asked backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unfurls", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5, help="link_shared events a second")
    parser.add_argument("--flood", type=int, default=2000, help="reactions and replies sent meanwhile")
    parser.add_argument("--flood-rate", type=float, default=50, help="flood events a second (0: as fast as they go)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL", DEFAULT_ADMIN_URL))
    args = parser.parse_args()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        with tempfile.TemporaryDirectory() as scratch, fresh_database(backend, args.admin_url, Path(scratch)) as url:
            run(backend, url, args)


if __name__ == "__main__":
    main()
