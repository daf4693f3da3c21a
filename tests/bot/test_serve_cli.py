"""`paperbot serve` as an operator meets it, through the installed console script: a port that cannot be had is one
line before anything starts, each channel's next digest is announced at start, and a stop says so."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.test_cli import paperbot, paperbot_env, script
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port something else is already listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def slack_env(db_url: str, slack: FakeSlack, **more: str) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "PAPERBOT_DIGEST_CHANNEL": "C7",
        **more,
    }


def test_a_port_in_use_is_one_line_before_slack_or_the_scheduler_start(
    tmp_path: Path, db_url: str, slack: FakeSlack, held_port: int
) -> None:
    result = paperbot(
        ["serve", "--http", "--host", "127.0.0.1", "--port", str(held_port)],
        cwd=tmp_path,
        **slack_env(db_url, slack),
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"paperbot: cannot listen on 127.0.0.1:{held_port}: port {held_port} is already in use (another paperbot?); "
        "stop that process or pick another --port"
    ]
    assert slack.calls_to("auth.test") == []  # neither the app nor the scheduler was started


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_a_port_out_of_range_is_one_line_naming_it(tmp_path: Path, port: str) -> None:
    result = paperbot(
        ["serve", "--http", "--port", port], cwd=tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s"
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"paperbot: --port {port} is not a port: use a number from 1 to 65535 (default 3000)"
    ]
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())  # it stopped before opening the database


def test_serve_announces_each_channels_next_digest_and_says_when_it_stopped(
    tmp_path: Path, db_url: str, slack: FakeSlack
) -> None:
    env = slack_env(db_url, slack, PAPERBOT_TIMEZONE="Europe/Berlin", PAPERBOT_DIGEST_TIME="07:30")
    port = free_port()
    process = subprocess.Popen(
        [script(), "serve", "--http", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=paperbot_env(env),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while not any("listening on" in line for line in lines) and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line.rstrip())
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=30)
    lines += rest.splitlines()
    log = "\n".join(lines)
    assert re.search(
        r"INFO bot\.scheduler: next digest for channel C7 \(team T\w+\): \w{3} \d{4}-\d\d-\d\d 07:30 Europe/Berlin$",
        log,
        re.MULTILINE,
    ), log
    assert log.rstrip().endswith("INFO bot.scheduler: paperbot stopped (SIGTERM)"), log
    # waitress ends its loop on the SystemExit the handler raises, so HTTP mode exits 0 (systemd: a clean stop).
    assert process.returncode in (0, 128 + signal.SIGTERM)
