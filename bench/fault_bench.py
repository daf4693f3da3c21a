"""Benchmark faults under a steady stream of Slack events: is every acknowledged event counted, exactly once?

    .venv/bin/python bench/fault_bench.py [--backend sqlite|postgresql|both] [--seconds 90] [--rate 50]
                                          [--outage 10] [--slack-outage 6]

Runs `paperbot serve --http` as a subprocess on a fresh, migrated database (20 paper posts seeded), with the
loopback fake Slack as its Web API, and for `--seconds` sends it signed events at `--rate` a second, as Slack's
servers would: reaction_added by new people, reaction_removed of acknowledged reactions, thread replies (see
bench/fault_ledger.py). A delivery that gets no 200 within Slack's 3 s is sent again with X-Slack-Retry-Num, at
most 3 times (Slack waits about a minute, then five; here 2, 6 and 15 s), so only what got a 200 has to be counted.
`/papers help` and `/papers top` go in turn once a second while the bot is up. Along the way:

1. at 15% of the run, the bot is killed with SIGKILL and started again;
2. at 35%, the database refuses connections for `--outage` s (PostgreSQL: a proxy that resets every connection
   and refuses new ones; SQLite: another connection holds BEGIN EXCLUSIVE);
3. at 70%, Slack's Web API answers every call with 429 (Retry-After: 1), then with 503, for `--slack-outage` s.

Then it waits for the backlog to drain and compares the database with what was acknowledged, and prints: events
sent, acknowledged, counted, lost (target 0), double counted (target 0), command answers over 3 s (target 0), ack
p50/p99, and for each fault the backlog of acknowledged events not yet counted when it ended and the time until
that backlog stopped shrinking ("drain"; "N never" when some were never counted).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, inspect, text  # noqa: E402

from bench.events_bench import DEFAULT_ADMIN_URL, fresh_database  # noqa: E402
from bench.fault_bot import BotProcess, DatabaseOutage  # noqa: E402
from bench.fault_ledger import Ledger, Score, State, percentile, score, seed_posts  # noqa: E402
from bench.fault_slack import Commands, Deliveries  # noqa: E402
from bench.search_http import Arrivals  # noqa: E402
from storage.db import make_sessions  # noqa: E402
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack  # noqa: E402

CLOSED = "http://127.0.0.1:9"
INBOX_STATES = "SELECT state, COUNT(*) FROM inbox_events GROUP BY state"


@dataclass
class Fault:
    """One fault: when it began and ended (monotonic) and, after its end, how many of the events acknowledged
    since the fault before it ended and until it ended were not counted yet, sampled."""

    name: str
    began: float
    since: float = 0.0  # the events it answers for were acknowledged after this (the fault before it ended)
    ended: float | None = None
    samples: list[tuple[float, int]] = field(default_factory=list)
    cut_at: float | None = None  # when the next fault began: sampling stopped there

    def drain(self) -> str:
        """The backlog when it ended and the seconds until it stopped shrinking, with what stayed missing."""
        if self.ended is None or not self.samples:
            return "not measured"
        backlog, final = self.samples[0][1], self.samples[-1][1]
        if backlog == 0:
            return "no backlog"
        if final and self.cut_at is not None:
            return f"backlog {backlog}; {final} still missing {self.cut_at - self.ended:.1f} s on (next fault)"
        settled = next(t for t, missing in self.samples if missing == final)
        text = f"backlog {backlog}, drained in {max(0.0, settled - self.ended):.1f} s"
        return text + (f", {final} never counted" if final else "")


def monitor(engine: Engine, ledger: Ledger, faults: list[Fault], overall: Fault, stop: threading.Event) -> None:
    """Every half second: for each fault that ended, how many events acknowledged before its end are missing."""
    while not stop.wait(0.5):
        try:
            state = State.read(engine)
        except Exception:  # the bench's own reads never go through the outage, but stay alive if they fail
            continue
        now = time.monotonic()
        for fault in faults:
            if fault.ended is not None and fault.cut_at is None:
                fault.samples.append((now, ledger.missing(state, fault.ended, fault.since)))
        overall.samples.append((now, ledger.missing(state, now)))


def bot_env(database_url: str, slack: FakeSlack) -> dict[str, str]:
    """The bot's environment: only our variables, Slack the fake, Hugging Face and arXiv a closed port."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAPERBOT_", "DATABASE_URL"))}
    return {
        **clean,
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "HF_API_URL": f"{CLOSED}/api/",
        "ARXIV_API_URL": f"{CLOSED}/api/query",
        "PAPERBOT_ARXIV_ENRICH": "0",
    }


def stream(deliveries: Deliveries, ledger: Ledger, rate: float, until: list[float]) -> None:
    """New events at `rate` a second until `until[0]` (the timeline may push it back), then the retries still
    due, until every delivery ended."""
    began, n = time.monotonic(), 0
    while True:
        now = time.monotonic()
        deliveries.send_due(now)
        due = began + n / rate
        if now < until[0] and now >= due:
            deliveries.send(ledger.next_event())
            n += 1
            continue
        if now >= until[0] and deliveries.idle():
            return
        time.sleep(max(0.0, min(0.01, due - now)))


def fault_gap(run_s: float) -> float:
    """The least time between a fault's end and the next fault (or the stream's end): a slow restart pushes what
    follows back, so each fault's backlog can drain while events still flow."""
    return max(5.0, 0.1 * run_s)


def at(moment: float) -> None:
    """Sleep until `moment` (monotonic)."""
    time.sleep(max(0.0, moment - time.monotonic()))


def timeline(
    args: argparse.Namespace,
    began: float,
    bot: BotProcess,
    slack: FakeSlack,
    outage: DatabaseOutage,
    faults: list[Fault],
) -> None:
    """The faults, one after another at fixed shares of the run, each appended to `faults` as it begins (its end
    is when it was over: the bot answering again, the database or Slack back)."""
    run_s, gap = args.seconds, fault_gap(args.seconds)

    def fault(name: str, moment: float, act: Callable[[], None]) -> None:
        at(max(moment, time.monotonic() + 1, (faults[-1].ended or 0.0) + gap if faults else 0.0))
        current = Fault(name, time.monotonic(), since=(faults[-1].ended or 0.0) if faults else 0.0)
        if faults:
            faults[-1].cut_at = current.began
        faults.append(current)
        print(f"  {current.began - began:5.1f} s  {name}", flush=True)
        act()
        current.ended = time.monotonic()

    def restart() -> None:
        bot.kill()
        bot.start()

    def database(kill_midway: bool = False) -> None:
        outage.down()
        time.sleep(args.outage / 2)
        starting = None
        if kill_midway:  # e.g. a liveness probe on /healthz (503 while the database is away) restarting it
            bot.kill()
            starting = threading.Thread(target=bot.start)
            starting.start()
        at(faults[-1].began + args.outage)
        outage.up()
        if starting is not None:
            starting.join()

    def slack_down() -> None:
        half = args.slack_outage / 2
        slack.fail_all(status=429, seconds=half, retry_after=1)
        time.sleep(half)
        slack.fail_all(status=503, seconds=half)
        time.sleep(half)

    fault("SIGKILL, restart", began + 0.12 * run_s, restart)
    fault(f"database refuses for {args.outage:g} s", began + 0.3 * run_s, database)
    fault("database refuses, SIGKILL mid-way", began + 0.55 * run_s, lambda: database(kill_midway=True))
    fault(f"Slack 429, then 5xx, for {args.slack_outage:g} s", began + 0.8 * run_s, slack_down)


def wait_for_drain(overall: Fault, reads: Engine, settle: float, limit: float) -> None:
    """Until every acknowledged event is counted, or, with no inbox rows pending (a bot with a durable inbox
    applies them after leases and backoffs), the count of missing ones held still for `settle` s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(0.5)
        samples = overall.samples
        if samples and samples[-1][1] == 0:
            return
        recent = [m for t, m in samples if t >= samples[-1][0] - settle] if samples else []
        still = samples and samples[-1][0] - samples[0][0] > settle and len(set(recent)) == 1
        if still and not inbox_rows(reads).get("pending"):
            return


def pending_in_inbox(reads: Engine, event_ids: list[str]) -> int:
    """How many of `event_ids` wait in the bot's inbox, stored but not applied yet (when the drain ended)."""
    with reads.connect() as conn:
        rows = conn.execute(text("SELECT event_id FROM inbox_events WHERE state = 'pending'"))
        pending = {str(event_id) for (event_id,) in rows}
    return len(pending.intersection(event_ids))


def inbox_rows(reads: Engine) -> dict[str, int]:
    """Rows of the bot's durable event inbox by state ({} when the bot has none)."""
    if not inspect(reads).has_table("inbox_events"):
        return {}
    with reads.connect() as conn:
        return {str(state): int(n) for state, n in conn.execute(text(INBOX_STATES))}


def run(backend: str, url: str, args: argparse.Namespace, scratch: Path) -> dict[str, str]:
    """One run on one database; the figures, ready to print."""
    seed_posts(url)
    arrivals = Arrivals()
    slack = FakeSlack(responses=arrivals).start()
    outage = DatabaseOutage(backend, url)
    bot = BotProcess(bot_env(outage.bot_url, slack), scratch)
    reads = create_engine(url)  # the bench's own reads: never through the proxy, never blocked by the lock
    ledger, stop = Ledger(), threading.Event()
    deliveries = Deliveries(bot.url + "/slack/events", ledger, args.senders)
    commands = Commands(bot.url + "/slack/events", slack, arrivals)
    overall = Fault("overall", time.monotonic())
    faults: list[Fault] = []
    try:
        bot.start()
        began = time.monotonic()
        until = [float("inf")]  # events flow until the last fault is over and a gap after it
        threads = [
            threading.Thread(target=stream, args=(deliveries, ledger, args.rate, until), daemon=True),
            threading.Thread(target=commands.run, args=(bot.up, stop), daemon=True),
            threading.Thread(target=monitor, args=(reads, ledger, faults, overall, stop), daemon=True),
        ]
        for thread in threads:
            thread.start()
        timeline(args, began, bot, slack, outage, faults)
        until[0] = max(began + args.seconds, (faults[-1].ended or 0.0) + fault_gap(args.seconds))
        threads[0].join()  # the stream and every retry of it are over
        wait_for_drain(overall, reads, args.settle, args.drain)
        stop.set()
        for thread in threads[1:]:
            thread.join()
        exit_s = bot.terminate()  # first: the database holds still while it is scored
        result = score(ledger, State.read(reads), make_sessions(reads))
        inbox = inbox_rows(reads)
        waiting = pending_in_inbox(reads, result.lost_ids) if inbox else 0
    finally:
        stop.set()
        bot.terminate()
        deliveries.close()
        reads.dispose()
        slack.stop()
        outage.close()
    column = figures(result, deliveries, commands, faults, bot, exit_s)
    if inbox:
        column["inbox rows at the end"] = ", ".join(f"{state} {n}" for state, n in sorted(inbox.items()))
        column["lost, yet pending in the inbox"] = str(waiting)
    return column


def figures(
    result: Score,
    deliveries: Deliveries,
    commands: Commands,
    faults: list[Fault],
    bot: BotProcess,
    exit_s: float | None,
) -> dict[str, str]:
    """The table's column for one run."""
    log = bot.log.read_text(errors="replace")
    lost = ", ".join(f"{kind} {n}" for kind, n in sorted(result.lost_by_kind.items()))
    failed = ", ".join(f"{k} {v}" for k, v in sorted(deliveries.outcomes.items()) if k != "200")
    p50, p99 = (percentile(deliveries.latencies, q) * 1000 for q in (0.5, 0.99))
    late = f"{commands.late()} (help {commands.late('help')}/{commands.sent('help')}"
    return {
        "events sent": str(result.sent),
        "acknowledged (200)": str(result.acked),
        "checkable / counted": f"{result.checked} / {result.counted}",
        "LOST (target 0)": f"{result.lost}" + (f" ({lost})" if lost else ""),
        "DOUBLE COUNTED (target 0)": str(result.double),
        "never acked (Slack gave up)": str(deliveries.gave_up),
        "deliveries (with retries)": str(sum(deliveries.outcomes.values())),
        "failed deliveries": failed or "0",
        "ack p50 / p99": f"{p50:.0f} / {p99:.0f} ms",
        "commands (s skipped: bot down)": f"{len(commands.answers)} ({commands.skipped})",
        "COMMANDS OVER 3 s (target 0)": f"{late}, top {commands.late('top')}/{commands.sent('top')})",
        "late commands": "; ".join(commands.late_ones) or "none",
        **{f"drain: {f.name}": f.drain() for f in faults},
        "starts that exited (db down)": str(bot.failed_starts),
        "SIGTERM to exit": "killed after 30 s" if exit_s is None else f"{exit_s:.1f} s",
        "log: 'not counted' lines": str(log.count("the event is not counted")),
        "log: tracebacks": str(log.count("Traceback")),
    }


def print_table(results: dict[str, dict[str, str]]) -> None:
    """One row per figure, one column per backend."""
    names = list(results)
    rows = list(dict.fromkeys(row for figures in results.values() for row in figures))
    width = max(len(r) for r in rows)
    columns = [max(len(name), *(len(results[name].get(r, "")) for r in rows)) for name in names]
    print(f"{'':{width}}  " + "  ".join(f"{name:{w}}" for name, w in zip(names, columns, strict=True)))
    for row in rows:
        cells = "  ".join(f"{results[name].get(row, ''):{w}}" for name, w in zip(names, columns, strict=True))
        print(f"{row:{width}}  {cells}")


def main() -> None:
    """Parse the options and run the benchmark on each asked backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=90.0, help="how long events are sent (20: a quick run)")
    parser.add_argument("--rate", type=float, default=50.0, help="new events a second")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds the database refuses connections")
    parser.add_argument("--slack-outage", type=float, default=6.0, help="seconds of Slack 429, then 5xx")
    parser.add_argument("--senders", type=int, default=32, help="concurrent deliveries (Slack's side)")
    parser.add_argument("--settle", type=float, default=3.0, help="backlog unchanged this long: drained")
    parser.add_argument("--drain", type=float, default=90.0, help="wait at most this long for the backlog")
    parser.add_argument("--keep-logs", type=Path, help="copy each run's bot log here as <backend>.log")
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL", DEFAULT_ADMIN_URL))
    args = parser.parse_args()
    # SIGTERM (timeout, kill) unwinds like Ctrl-C: the bot process is stopped and the scratch database dropped.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    args.outage = min(args.outage, 0.2 * args.seconds)  # a quick run keeps its faults apart
    args.slack_outage = min(args.slack_outage, 0.15 * args.seconds)
    print(
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {args.rate:g} events/s for {args.seconds:g} s"
    )
    results: dict[str, dict[str, str]] = {}
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        print(f"{backend}:", flush=True)
        with tempfile.TemporaryDirectory() as scratch, fresh_database(backend, args.admin_url, Path(scratch)) as url:
            try:
                results[backend] = run(backend, url, args, Path(scratch))
            finally:
                if args.keep_logs:
                    args.keep_logs.mkdir(parents=True, exist_ok=True)
                    shutil.copy(Path(scratch) / "paperbot.log", args.keep_logs / f"{backend}.log")
    print()
    print_table(results)


if __name__ == "__main__":
    main()
