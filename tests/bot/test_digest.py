"""Choosing a channel's papers, and `paperbot digest` as a person runs it (dry run offline, real posts)."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import cast

import pytest
from click.testing import CliRunner
from slack_bolt import Ack, BoltContext, Respond
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.choose import PaperLike, Prefs, choose, matches, prefs_for, rank, weekday_adjusted
from bot.cli import cli
from bot.config import Settings
from bot.digest import explain_slack_error
from storage.models import Channel
from storage.records import PaperRecord
from tests.fakes.hf import FakeHF, daily_item
from tests.fakes.slack import BOT_TOKEN, FakeSlack


def paper(arxiv_id: str, upvotes: int | None = 0, **kw: object) -> PaperRecord:
    return PaperRecord(arxiv_id=arxiv_id, title=str(kw.pop("title", f"Paper {arxiv_id}")), hf_upvotes=upvotes, **kw)  # type: ignore[arg-type]


def prefs(**kw: object) -> Prefs:
    return Prefs(**{"team_id": "T1", "channel_id": "C1", "size": 10, **kw})  # type: ignore[arg-type]


def ids(papers: Sequence[PaperLike]) -> list[str]:
    return [p.arxiv_id for p in papers]


def test_ranked_by_upvotes_unknown_last_ties_in_source_order() -> None:
    papers = [paper("a", None), paper("b", 3), paper("c", 9), paper("d", 3), paper("e", 0)]
    assert ids(rank(papers)) == ["c", "b", "d", "e", "a"]


def test_choose_skips_posted_papers_and_low_upvotes_and_stops_at_the_size() -> None:
    papers = [paper(str(i), i) for i in range(10)]
    chosen = choose(papers, prefs=prefs(size=3, min_upvotes=4), posted={"9", "7"})
    assert ids(chosen) == ["8", "6", "5"]


def test_keyword_filters_forgive_typos_but_short_words_must_match_whole() -> None:
    diffusion = paper("1", title="Latent Diffusion for Video", abstract="We study generative models.")
    rl = paper("2", title="RL agents that plan", abstract="A world model.")
    world = paper("3", title="A world model", abstract="Worldwide.")
    assert matches(diffusion, {"keywords": ["difusion"]})
    assert not matches(world, {"keywords": ["difusion"]})
    assert matches(rl, {"keywords": ["RL"]}) and not matches(world, {"keywords": ["RL"]})


def test_author_and_topic_filters_and_every_kind_set_must_hold() -> None:
    p = paper(
        "1", authors=["Geoffrey Hinton", "Ada Lovelace"], ai_keywords=["contrastive learning"], categories=["cs.LG"]
    )
    assert matches(p, {"authors": ["Hintn"]})
    assert not matches(p, {"authors": ["Yann LeCun"]})
    assert matches(p, {"topics": ["cs.lg"]}) and matches(p, {"topics": ["contrastive"]})
    assert not matches(p, {"authors": ["Hinton"], "topics": ["robotics"]})
    assert matches(p, {"authors": ["Hinton"], "topics": ["robotics", "cs.LG"], "keywords": []})


def test_weekend_lists_are_skipped_unless_the_channel_wants_them() -> None:
    saturday, sunday, monday = date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23)
    assert weekday_adjusted(sunday, include_weekends=False) == date(2026, 11, 20)  # Monday gets Friday's
    assert weekday_adjusted(saturday, include_weekends=False) == date(2026, 11, 20)
    assert weekday_adjusted(monday, include_weekends=False) == monday
    assert weekday_adjusted(sunday, include_weekends=True) == sunday


def test_channel_settings_win_over_the_deployment_and_size_flag_wins_over_both() -> None:
    settings = Settings(_env_file=None, digest_size=10, timezone="UTC")
    channel = Channel(
        team_id="T1",
        channel_id="C1",
        digest_size=4,
        timezone="Asia/Tokyo",
        digest_time=None,
        filters={"keywords": ["agents"]},
        min_upvotes=2,
        include_weekends=False,
        post_empty_notice=True,
    )
    p = prefs_for(channel, settings=settings, team_id="T1", channel_id="C1")
    assert (p.size, p.timezone, p.digest_time, p.min_upvotes) == (4, "Asia/Tokyo", "09:00", 2)
    assert p.filters == {"keywords": ["agents"]} and p.post_empty_notice
    assert prefs_for(channel, settings=settings, team_id="T1", channel_id="C1", size=2).size == 2
    assert prefs_for(None, settings=settings, team_id="T1", channel_id="C1").size == 10


def test_channel_errors_tell_the_operator_what_to_do() -> None:
    assert "invite the bot with /invite @paperbot to #C9" in explain_slack_error("not_in_channel", "C9")
    assert "SLACK_BOT_TOKEN" in explain_slack_error("invalid_auth", "C9")


# ---- `paperbot digest` ----------------------------------------------------------------------------------------


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    return {"DATABASE_URL": db_url, "HF_API_URL": "http://127.0.0.1:9/api/", "PAPERBOT_LOG_LEVEL": "WARNING"}


def test_dry_run_offline_shows_the_sample_and_says_so_without_slack_credentials(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["digest", "--dry-run", "--size", "3", "--date", "2026-11-24"], env=env)
    assert result.exit_code == 0, result.output
    assert "bundled sample" in result.output and "Nothing was posted" in result.output
    # The header says whose papers these are: not Tuesday's list, and no link to Tuesday on huggingface.co.
    screen = " ".join(result.output.replace("│", " ").split())  # panel borders and wrapping left out
    assert "Daily Papers · sample" in screen
    assert "not the Hugging Face list of Tuesday, 24 November 2026" in screen
    assert "Daily Papers · Tuesday" not in result.output and "see the whole day" not in result.output
    assert "3 of 31 papers of the bundled sample would be posted" in result.output
    assert "message 4 of 4" in result.output


def test_dry_run_json_prints_valid_block_kit_payloads(env: dict[str, str]) -> None:
    from bot.blocks import validate

    result = CliRunner().invoke(cli, ["digest", "--dry-run", "--json", "--size", "2"], env=env)
    assert result.exit_code == 0, result.output
    payloads = json.loads(result.stdout)
    assert len(payloads) == 3
    for payload in payloads:
        validate(payload)
    assert payloads[0]["blocks"][0]["text"]["text"] == "Daily Papers · sample"  # offline: the sample, and it says so
    assert "huggingface.co/papers/date" not in json.dumps(payloads[0])


def live_day(env: dict[str, str], fakes: tuple[FakeSlack, FakeHF], id_prefix: str) -> list[str]:
    """Four papers on the fake HF's 2026-11-24 list, `env` pointed at the fakes; the digest arguments for C7."""
    slack, hf = fakes
    day = date(2026, 11, 24)
    hf.set_daily(day, [daily_item(f"{id_prefix}{i}", f"Real {i}", day, upvotes=i) for i in range(4)])
    env |= {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": slack.url, "HF_API_URL": hf.url}
    return ["digest", "--channel", "C7", "--date", "2026-11-24", "--size", "2"]


def test_dry_run_json_is_exactly_what_the_real_post_sends(env: dict[str, str], fakes: tuple[FakeSlack, FakeHF]) -> None:
    slack = fakes[0]
    args = live_day(env, fakes, "2411.3100")
    preview = CliRunner().invoke(cli, [*args, "--dry-run", "--json"], env=env)
    assert preview.exit_code == 0, preview.output
    payloads = json.loads(preview.stdout)
    assert slack.calls_to("chat.postMessage") == []
    real = CliRunner().invoke(cli, args, env=env)
    assert real.exit_code == 0, real.output
    sent = [call.params for call in slack.calls_to("chat.postMessage")]
    assert len(sent) == len(payloads) == 3
    run_ids = {s["metadata"]["event_payload"]["run"] for s in sent}
    assert len(run_ids) == 1 and None not in run_ids
    (run_id,) = run_ids
    for payload in payloads:  # the one thing a preview cannot know: the id the claim gives the run
        assert payload["metadata"]["event_payload"]["run"] is None
        payload["metadata"]["event_payload"]["run"] = run_id
    assert payloads == sent  # metadata, unfurl flags, text and blocks: every argument, the same values


@pytest.fixture
def fakes() -> Iterator[tuple[FakeSlack, FakeHF]]:
    slack, hf = FakeSlack().start(), FakeHF().start()
    yield slack, hf
    slack.stop()
    hf.stop()


def test_real_post_then_a_rerun_posts_nothing_and_says_so(env: dict[str, str], fakes: tuple[FakeSlack, FakeHF]) -> None:
    slack = fakes[0]
    args = live_day(env, fakes, "2411.3000")
    first = CliRunner().invoke(cli, args, env=env)
    assert first.exit_code == 0, first.output
    assert "Posted 2 papers of 2026-11-24 to #C7" in first.output
    again = CliRunner().invoke(cli, args, env=env)
    assert again.exit_code == 0 and "already posted" in again.output and "nothing posted again" in again.output
    assert len(slack.posted("C7")) == 3


def test_real_post_never_falls_back_to_the_sample(env: dict[str, str], fakes: tuple[FakeSlack, FakeHF]) -> None:
    slack, _hf = fakes
    env |= {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": slack.url}
    result = CliRunner().invoke(cli, ["digest", "--channel", "C7", "--date", "2026-11-24"], env=env)
    assert result.exit_code != 0 and "Hugging Face is unreachable" in result.output
    assert slack.posted("C7") == []
    sample = CliRunner().invoke(
        cli, ["digest", "--channel", "C7", "--date", "2026-11-24", "--size", "2", "--source", "sample"], env=env
    )
    assert sample.exit_code == 0 and len(slack.posted("C7")) == 3


def test_a_sample_post_never_becomes_the_days_list_for_a_later_real_post(
    env: dict[str, str], fakes: tuple[FakeSlack, FakeHF]
) -> None:
    from sqlalchemy import func, select

    from storage.db import make_engine, make_sessions
    from storage.models import Paper, UpvoteSnapshot

    slack, _hf = fakes  # HF_API_URL points where nothing listens: Hugging Face is unreachable
    env |= {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": slack.url}
    sample = CliRunner().invoke(
        cli, ["digest", "--channel", "CX", "--date", "2026-11-24", "--size", "2", "--source", "sample"], env=env
    )
    assert sample.exit_code == 0, sample.output
    assert len(slack.posted("CX")) == 3
    assert slack.posted("CX")[0]["blocks"][0]["text"]["text"] == "Daily Papers · sample"
    real = CliRunner().invoke(cli, ["digest", "--channel", "CY", "--date", "2026-11-24"], env=env)
    assert real.exit_code == 1
    assert "Hugging Face is unreachable" in real.output and "no papers of 2026-11-24 are stored" in real.output
    assert slack.posted("CY") == []
    # The sample's papers have rows (the posts in CX point at them) but belong to no day's list.
    engine = make_engine(env["DATABASE_URL"])
    with make_sessions(engine).begin() as s:
        assert s.scalar(select(func.count()).select_from(Paper)) == 31
        assert s.scalar(select(func.count()).select_from(Paper).where(Paper.daily_date.is_not(None))) == 0
        assert s.scalar(select(func.count()).select_from(UpvoteSnapshot)) == 0
    engine.dispose()


def test_a_real_post_from_the_stored_list_tells_the_person_hugging_face_was_unreachable(
    env: dict[str, str], fakes: tuple[FakeSlack, FakeHF]
) -> None:
    slack, hf = fakes
    day = date(2026, 11, 24)
    hf.set_daily(day, [daily_item(f"2411.3200{i}", f"Stored {i}", day, upvotes=i) for i in range(4)])
    env |= {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": slack.url, "HF_API_URL": hf.url}
    first = CliRunner().invoke(cli, ["digest", "--channel", "CX", "--date", "2026-11-24", "--size", "2"], env=env)
    assert first.exit_code == 0, first.output
    hf.fail_next("daily_papers", 400, times=5)  # HF answers, but not with the list (a 4xx is not retried)
    later = CliRunner().invoke(cli, ["digest", "--channel", "CY", "--date", "2026-11-24", "--size", "2"], env=env)
    assert later.exit_code == 0, later.output
    assert f"Hugging Face is unreachable at {hf.url}; using the 4 papers stored for 2026-11-24." in later.output
    assert "Posted 2 papers of 2026-11-24 to #CY" in later.output
    assert [m["text"][:8] for m in slack.posted("CY")[1:]] == ["1. Store", "2. Store"]
    hf.fail_next("daily_papers", 400, times=5)
    as_json = CliRunner().invoke(
        cli, ["digest", "--channel", "CZ", "--date", "2026-11-24", "--size", "1", "--json"], env=env
    )
    (result,) = json.loads(as_json.stdout)
    assert result["status"] == "posted" and result["note"].startswith("Hugging Face is unreachable")


CLOSED = "http://127.0.0.1:9/api/"  # nothing listens there


def test_digest_with_slack_unreachable_says_so_in_one_line(env: dict[str, str]) -> None:
    env |= {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": CLOSED, "PAPERBOT_HTTP_TIMEOUT": "2"}
    result = CliRunner().invoke(cli, ["digest", "--channel", "C7", "--source", "sample"], env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # no traceback
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"paperbot: Could not reach Slack at {CLOSED}")


def test_papers_digest_now_with_slack_unreachable_answers_in_one_sentence(
    engine: Engine, sessions: sessionmaker[Session], hf: FakeHF
) -> None:
    from slack_sdk import WebClient

    from bot.choose import newest_day
    from bot.deps import Deps
    from handlers.commands import papers_digest
    from storage.models import utcnow

    settings = Settings(
        _env_file=None,
        database_url=str(engine.url),
        slack_api_url=CLOSED,
        hf_api_url=hf.url,
        http_timeout=2,
    )
    day = newest_day(utcnow(), prefs(timezone=settings.timezone))
    hf.set_daily(day, [daily_item("2411.40001", "Now paper", day, upvotes=3)])
    replies: list[dict[str, object]] = []
    deps = Deps(settings=settings, engine=engine, sessions=sessions)
    papers_digest(
        ack=cast(Ack, lambda **_: None),
        command={"team_id": "T1", "channel_id": "C1", "command": "/papers"},
        args="now",
        respond=cast(Respond, lambda **kw: replies.append(kw)),
        context=BoltContext({"deps": deps}),
        client=WebClient(token=BOT_TOKEN, base_url=CLOSED),
    )
    deps.close()  # the digest runs on the answer pool after the ack; closing waits for it
    (reply,) = replies
    text = str(reply["text"])
    assert text.startswith(f"Could not reach Slack at {CLOSED}") and "\n" not in text
    assert "next attempt resumes the digest" in text


def test_dry_run_offline_says_it_once_without_a_warning_log_line(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    result = CliRunner().invoke(cli, ["digest", "--dry-run", "--size", "1", "--date", "2026-11-24"], env=env)
    assert result.exit_code == 0, result.output
    assert "bundled sample" in result.output  # the friendly note is the only word about being offline
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_serve_with_slack_unreachable_says_so_in_one_line(env: dict[str, str]) -> None:
    env |= {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "s3cret",
        "SLACK_API_URL": CLOSED,
        "PAPERBOT_HTTP_TIMEOUT": "2",
        "PAPERBOT_DIGEST_CHANNEL": "C7",
    }
    with socket.socket() as free:  # a port nobody listens on: serve binds it before it asks Slack
        free.bind(("127.0.0.1", 0))
        port = str(free.getsockname()[1])
    result = CliRunner().invoke(cli, ["serve", "--http", "--host", "127.0.0.1", "--port", port], env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"paperbot: Could not reach Slack at {CLOSED}")
    assert "Traceback" not in result.output


def test_ctrl_c_stops_a_real_digest_with_exit_130_and_the_rerun_posts_the_rest(
    env: dict[str, str], fakes: tuple[FakeSlack, FakeHF]
) -> None:
    import os
    import signal
    import subprocess
    import sys

    slack, hf = fakes
    slack.ts_base = int(time.time())  # message ts on the real clock, as a resumed run's history bounds are
    day = date(2026, 11, 24)
    hf.set_daily(day, [daily_item(f"2411.5000{i}", f"Real {i}", day, upvotes=i) for i in range(4)])
    env |= {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.url,
        "HF_API_URL": hf.url,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    args = [
        sys.executable,
        "-c",
        "from bot.cli import main; main()",
        "digest",
        "--channel",
        "C7",
        "--date",
        "2026-11-24",
        "--size",
        "3",
    ]
    proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    slack.wait_for(lambda: len(slack.posted("C7")) >= 2, timeout=20)  # the header and the first paper
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "paperbot: interrupted" and "Traceback" not in err
    stopped_at = len(slack.posted("C7"))
    assert stopped_at < 4
    rerun = CliRunner().invoke(cli, args[3:], env=env)
    assert rerun.exit_code == 0 and "Resumed" in rerun.output, rerun.output
    assert len(slack.posted("C7")) == 4
