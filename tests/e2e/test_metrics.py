"""`GET /metrics`, as Prometheus scrapes it: the counters move with the traffic sent through the signed endpoint,
the inbox's depth is read from the database (and a database that is down does not fail the scrape), Slack's
429s are counted by method, and no other request gets in without Slack's signature. Socket Mode serves the
metrics on PAPERBOT_METRICS_PORT alone."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.choose import Prefs, newest_day
from bot.server import HttpServer, make_wsgi
from storage import inbox
from storage.db import make_engine
from storage.models import utcnow
from tests.bot.test_cli import paperbot, paperbot_env, script
from tests.bot.test_serve_cli import free_port, slack_env
from tests.e2e.test_inbox import CHANNEL, post_paper, vote
from tests.fakes.hf import FakeHF, daily_item
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, TEAM_ID, FakeSlack, SlackSender
from tests.fakes.socket_mode import FakeSocketMode
from tests.running import RunningBot, bot_settings, running_bot

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of `GET url/metrics`, by name and labels."""
    answer = httpx.get(url + "/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def until(read: Callable[[], Samples], done: Callable[[Samples], bool], timeout: float = 30.0) -> Samples:
    """Scrape until `done` holds (work after an ack is timed when it ends, just after its reply)."""
    deadline = time.monotonic() + timeout
    while True:
        samples = read()
        if done(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def test_counters_move_with_events_and_commands(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack, db_url: str
) -> None:
    post_paper(db_url)
    before = scrape(bot.url)
    for n, user in enumerate(("U1", "U2", "U3"), start=1):
        assert sender.event(vote(user, n=n), event_id=f"EvVote{n}").status_code == 200
    assert sender.event(vote("U1", n=1), event_id="EvVote1", retry_num=1).status_code == 200  # Slack's retry
    bot.workers.drain()
    assert sender.command("help").status_code == 200
    assert sender.command("frobnicate").status_code == 200
    assert sender.command("subscriptions", response_url=slack.response_url("subs")).status_code == 200
    slack.wait_for(lambda: [r for r in slack.responses if r["key"] == "subs"])

    def commands_timed(samples: Samples) -> bool:
        return moved(before, samples, "paperbot_command_seconds_count", subcommand="subscriptions") == 1

    after = until(lambda: scrape(bot.url), commands_timed)
    assert moved(before, after, "paperbot_events_received_total", type="reaction_added") == 4
    assert moved(before, after, "paperbot_events_applied_total", type="reaction_added", outcome="changed") == 3
    assert moved(before, after, "paperbot_events_not_stored_total", type="reaction_added") == 0
    for subcommand in ("help", "invalid", "subscriptions"):
        assert moved(before, after, "paperbot_command_seconds_count", subcommand=subcommand) == 1, subcommand
    assert value(after, "paperbot_inbox_events", state="pending") == 0
    assert value(after, "paperbot_inbox_stats_up") == 1


def test_metrics_need_no_signature_and_nothing_else_gets_in_without_one(bot: RunningBot) -> None:
    with httpx.Client(base_url=bot.url, timeout=10) as http:
        answer = http.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert http.head("/metrics").status_code == 200
        assert http.post("/metrics", content=b"x").status_code == 405
        unsigned = http.post(
            "/slack/events", content=b'{"type": "event_callback"}', headers={"content-type": "application/json"}
        )
        assert unsigned.status_code == 401
        assert http.get("/metricsx").status_code == 404
    families = list(text_string_to_metric_families(answer.text))
    ours = [f for f in families if f.name.startswith("paperbot_")]
    assert {"paperbot_events_received", "paperbot_command_seconds", "paperbot_slack_api_calls"} <= {
        f.name for f in ours
    }
    assert all(f.documentation for f in ours)
    assert all(f.name.startswith(("paperbot_", "python_", "process_")) for f in families)


def test_inbox_depth_and_the_oldest_pending_event_age(bot: RunningBot) -> None:
    bot.workers.stop()  # nothing applies the rows this test leaves
    two_hours_ago = utcnow() - timedelta(hours=2)
    with bot.deps.sessions.begin() as session:
        for n in range(3):
            arrival = inbox.Arrival(TEAM_ID, f"EvOld{n}", "reaction_added", "{}", None)
            inbox.add(session=session, arrival=arrival, now=two_hours_ago + timedelta(minutes=n))
        [first, *_] = inbox.take(session=session, owner="test", lease=timedelta(seconds=1), limit=1)
        inbox.park(session=session, row_id=first.id, reason="test")
    samples = scrape(bot.url)
    assert value(samples, "paperbot_inbox_events", state="pending") == 2
    assert value(samples, "paperbot_inbox_events", state="parked") == 1
    assert value(samples, "paperbot_inbox_oldest_pending_age_seconds") >= 2 * 3600 - 60


def test_a_scrape_answers_while_the_database_is_down() -> None:
    engine = make_engine("postgresql+psycopg://paperbot@127.0.0.1:9/nowhere")  # nothing listens there
    server = HttpServer(make_wsgi(None, engine), "127.0.0.1", 0).start()
    try:
        samples = scrape(server.url)
        assert value(samples, "paperbot_inbox_stats_up") == 0
        assert not any(name == "paperbot_inbox_events" for name, _ in samples)
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 503
    finally:
        server.stop()
        engine.dispose()


def home_opened(user: str = "U0001") -> dict[str, object]:
    return {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home", "event_ts": "1764160000.1"}


def test_slack_429s_are_counted_by_method(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    before = scrape(bot.url)
    slack.fail_all(status=429, calls=2, retry_after=0, methods={"views.publish"})
    assert sender.event(home_opened()).status_code == 200
    slack.wait_for(lambda: len(slack.calls_to("views.publish")) == 3)  # two 429s waited out, then published

    def published(samples: Samples) -> bool:
        return moved(before, samples, "paperbot_slack_api_calls_total", method="views.publish", result="ok") == 1

    after = until(lambda: scrape(bot.url), published)
    assert moved(before, after, "paperbot_slack_api_calls_total", method="views.publish", result="ok") == 1
    assert moved(before, after, "paperbot_slack_api_calls_total", method="views.publish", result="429") == 2
    assert moved(before, after, "paperbot_slack_api_rate_limited_total", method="views.publish") == 2


def test_socket_mode_serves_metrics_on_their_own_port_only(tmp_path: Path, db_url: str, slack: FakeSlack) -> None:
    socket_mode = FakeSocketMode().start()
    slack.socket_url = socket_mode.url
    port, metrics_port = free_port(), free_port()
    env = slack_env(
        db_url,
        slack,
        SLACK_APP_TOKEN=APP_TOKEN,
        PAPERBOT_METRICS_PORT=str(metrics_port),
        PAPERBOT_LOG_FORMAT="json",
    )
    process = subprocess.Popen(
        [script(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=paperbot_env(env),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if not socket_mode.connected.wait(60):
            process.terminate()
            raise AssertionError(f"serve never opened the Socket Mode connection: {process.communicate()[1]}")
        metrics_url = f"http://127.0.0.1:{metrics_port}"
        before = scrape(metrics_url)
        envelope = socket_mode.send(
            "slash_commands",
            {"team_id": TEAM_ID, "channel_id": CHANNEL, "user_id": "U0001", "command": "/papers", "text": "help"},
        )
        socket_mode.ack_for(envelope)

        def timed(samples: Samples) -> bool:
            return moved(before, samples, "paperbot_command_seconds_count", subcommand="help") == 1

        assert timed(until(lambda: scrape(metrics_url), timed))
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).status_code == 404  # off on the health port
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=30)
        socket_mode.stop()
    lines = log.splitlines()
    assert lines, "serve logged nothing"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    assert any(f"metrics on http://127.0.0.1:{metrics_port}/metrics" in r["message"] for r in records)
    for secret in (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN):
        assert secret not in log


def test_a_metrics_port_in_use_is_one_line_before_anything_starts(
    tmp_path: Path, db_url: str, slack: FakeSlack
) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        result = paperbot(
            ["serve", "--http", "--host", "127.0.0.1", "--port", str(free_port())],
            cwd=tmp_path,
            **slack_env(db_url, slack, PAPERBOT_METRICS_PORT=str(taken)),
        )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"paperbot: PAPERBOT_METRICS_PORT: cannot listen on 127.0.0.1:{taken}: port {taken} is already in use"
        " (another paperbot?); stop that process or pick another port"
    ]
    assert slack.calls_to("auth.test") == []


def test_a_digest_posted_through_the_endpoint_is_counted(db_url: str, slack: FakeSlack, hf: FakeHF) -> None:
    slack.ts_base = int(time.time())  # message ts on the real clock, as the runs' history bounds are
    day = newest_day(utcnow(), Prefs(TEAM_ID, CHANNEL, 2))
    hf.set_daily(day, [daily_item(f"2411.1000{i}", f"Now paper {i}", day, upvotes=i) for i in range(1, 4)])
    with running_bot(bot_settings(db_url, slack, hf_api_url=hf.url, digest_size=2)) as bot:
        sender = SlackSender(bot.url + "/slack/events")
        before = scrape(bot.url)
        sender.command("digest now", channel=CHANNEL, response_url=slack.response_url("now"))
        slack.wait_for(lambda: slack.responses)
        sender.close()

        def timed(samples: Samples) -> bool:
            return moved(before, samples, "paperbot_command_seconds_count", subcommand="digest") == 1

        after = until(lambda: scrape(bot.url), timed)
    assert slack.responses[-1]["text"].startswith("Posted 2 papers")
    assert moved(before, after, "paperbot_command_seconds_count", subcommand="digest") == 1
    assert moved(before, after, "paperbot_digest_runs_total", status="posted") == 1
    assert moved(before, after, "paperbot_digest_messages_posted_total") == 3  # the header and two papers
    assert moved(before, after, "paperbot_slack_api_calls_total", method="chat.postMessage", result="ok") == 3
    assert moved(before, after, "paperbot_source_requests_total", source="hf", result="2xx") >= 1
