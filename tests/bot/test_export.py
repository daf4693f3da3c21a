"""`paperbot export`: the real command on a real database (both backends), and its pure parts.

The rows a team's activity leaves (posts, reactions, replies, the workspace's bot user) are created directly, as
the Slack event handlers would store them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, event, insert, text
from sqlalchemy.orm import Session, sessionmaker

from bot import blocks
from bot.cli import cli
from bot.export import (
    CSV_COLUMNS,
    ExportUsage,
    PaperExport,
    PostRef,
    SlackRequest,
    bibtex_entry,
    bibtex_key,
    export_filename,
    parse_command,
    since_ts,
    spreadsheet_safe,
    ts_to_utc,
)
from bot.latex import balanced, latex_text, safe_math
from bot.subcommands import help_text
from storage.lookups import remember_privacy
from storage.models import Post, Reaction, Reply, Workspace
from storage.papers import upsert_papers
from storage.posts import record_post
from storage.records import PaperRecord

Run = Callable[..., Result]

OLD, FIRST, SECOND, HOSTILE, UNPOSTED = "hep-th/9901001", "2410.13732", "2411.00042", "2411.00001", "2411.00002"
HOSTILE_TITLE = r"Pay 100% & {win} $x_1 #2 ~ ^ \input{/etc/passwd} }{ back\slash $\alpha$-nets R\&D Schr\"odinger"
JSON_KEYS = {"arxiv_id", "title", "authors", "published", "hf_upvotes", "votes", "reactions", "replies", "posts"}


def ts(day: int, hour: int = 9) -> str:
    """The Slack ts of a message posted on 2025-11-`day` at `hour`:00 UTC."""
    return f"{int(datetime(2025, 11, day, hour, tzinfo=UTC).timestamp())}.000100"


def react(session: Session, team: str, channel: str, message_ts: str, arxiv_id: str, *who_emoji: str) -> None:
    for pair in who_emoji:
        user, emoji = pair.split(":")
        session.add(
            Reaction(
                team_id=team, channel_id=channel, message_ts=message_ts, user_id=user, emoji=emoji, arxiv_id=arxiv_id
            )
        )


def reply(
    session: Session, channel: str, thread_ts: str, at: str, user: str | None, arxiv_id: str, deleted: bool = False
) -> None:
    session.add(
        Reply(
            team_id="T1",
            channel_id=channel,
            thread_ts=thread_ts,
            ts=at,
            user_id=user,
            text="hm",
            deleted=deleted,
            arxiv_id=arxiv_id,
        )
    )


@pytest.fixture
def seeded(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Four posted papers in two workspaces, and one paper nobody posted.

    - OLD: a digest in T2/C9 on the 24th (the first post of all): one person's +1 and the T2 bot's.
    - FIRST: a digest in T1/C1 on the 25th and a share in T1/C2 on the 27th. Votes: U1 (+1 and fire on the
      digest, +1 on the share: one person), U2 (heart; +1 on the share), U4 (thumbsup): 3. U3's :eyes: is no
      vote; the bot's +1 and U5's +1 on a thread reply (not a post) don't count. Replies: U2 and U3 under the
      digest, U1 under the share (3); a deleted one, the bot's and a user-less one don't count.
    - HOSTILE: a lookup in T1/C1 on the 26th, one +1, a title full of BibTeX's special characters.
    - SECOND: a digest in T1/C1 on the 25th at 16:00 UTC (after FIRST's; the 26th in Tokyo), no reactions.
    """
    with sessions.begin() as session:
        upsert_papers(
            session=session,
            records=[
                PaperRecord(arxiv_id=OLD, title="Old Physics", authors=["Ed Witten"]),
                PaperRecord(
                    arxiv_id=FIRST,
                    title="Reducing the Transformer",
                    authors=["Ada Lovelace", "Alan Turing"],
                    published=date(2024, 10, 17),
                    hf_upvotes=12,
                    primary_category="cs.CL",
                    doi="10.1000/xyz_1",
                    journal_ref="J. Imaginary Res. 1 (2024)",
                ),
                PaperRecord(arxiv_id=SECOND, title="=cmd|' /C calc'!A0", authors=["-Mallory"]),
                PaperRecord(arxiv_id=HOSTILE, title=HOSTILE_TITLE, authors=["R and D Team", "Émile Zola"]),
                PaperRecord(arxiv_id=UNPOSTED, title="Nobody Posted Me"),
            ],
        )
        session.add_all([Workspace(team_id="T1", bot_user_id="UBOT"), Workspace(team_id="T2", bot_user_id="UBOT2")])
        posts = [
            ("T2", "C9", ts(24), OLD, "digest"),
            ("T1", "C1", ts(25), FIRST, "digest"),
            ("T1", "C2", ts(27), FIRST, "share"),
            ("T1", "C1", ts(26), HOSTILE, "lookup"),
            ("T1", "C1", ts(25, 16), SECOND, "digest"),
        ]
        for team, channel, at, arxiv_id, kind in posts:
            record_post(session=session, team_id=team, channel_id=channel, ts=at, arxiv_id=arxiv_id, kind=kind)
        react(session, "T2", "C9", ts(24), OLD, "U1:+1", "UBOT2:+1")
        react(session, "T1", "C1", ts(25), FIRST, "U1:+1", "U1:fire", "U2:heart", "U3:eyes", "UBOT:+1")
        react(session, "T1", "C2", ts(27), FIRST, "U1:+1", "U2:+1", "U4:thumbsup")
        react(session, "T1", "C1", ts(25, 11), FIRST, "U5:+1")  # on a thread reply, not on a post
        react(session, "T1", "C1", ts(26), HOSTILE, "U7:+1")
        reply(session, "C1", ts(25), ts(25, 11), "U2", FIRST)
        reply(session, "C1", ts(25), ts(25, 12), "U3", FIRST)
        reply(session, "C1", ts(25), ts(25, 13), "U2", FIRST, deleted=True)
        reply(session, "C1", ts(25), ts(25, 14), "UBOT", FIRST)
        reply(session, "C1", ts(25), ts(25, 15), None, FIRST)
        reply(session, "C2", ts(27), ts(27, 11), "U1", FIRST)
    return sessions


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> Run:
    monkeypatch.chdir(tmp_path)  # no stray .env
    runner = CliRunner()
    env = {"DATABASE_URL": db_url, "PAPERBOT_TIMEZONE": "UTC", "PAPERBOT_VOTE_EMOJI": None}
    return lambda *args: runner.invoke(cli, ["export", *map(str, args)], env=env)


def export_json(run: Run, *args: object) -> list[dict[str, Any]]:
    result = run(*args)
    assert result.exit_code == 0, result.output
    papers: list[dict[str, Any]] = json.loads(result.stdout)
    return papers


def by_id(papers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["arxiv_id"]: p for p in papers}


# ---- JSON ------------------------------------------------------------------------------------------------------


def test_json_counts_people_not_bots_and_orders_by_first_post(seeded: Any, run: Run) -> None:
    papers = export_json(run)
    assert [p["arxiv_id"] for p in papers] == [OLD, FIRST, SECOND, HOSTILE]  # by first post; UNPOSTED is absent
    assert all(set(p) == JSON_KEYS for p in papers)
    first = by_id(papers)[FIRST]
    assert first["votes"] == 3
    assert first["reactions"] == {"+1": 2, "eyes": 1, "fire": 1, "heart": 1, "thumbsup": 1}
    assert first["replies"] == 3
    assert first["posts"] == [
        {"team": "T1", "channel": "C1", "ts": ts(25), "kind": "digest"},
        {"team": "T1", "channel": "C2", "ts": ts(27), "kind": "share"},
    ]
    assert (first["title"], first["authors"], first["published"], first["hf_upvotes"]) == (
        "Reducing the Transformer",
        ["Ada Lovelace", "Alan Turing"],
        "2024-10-17",
        12,
    )
    old = by_id(papers)[OLD]
    assert (old["votes"], old["reactions"], old["published"], old["hf_upvotes"]) == (1, {"+1": 1}, None, None)
    assert by_id(papers)[SECOND]["votes"] == 0 and by_id(papers)[SECOND]["reactions"] == {}
    assert by_id(papers)[HOSTILE]["title"] == " ".join(HOSTILE_TITLE.split())  # JSON keeps it as it is


def test_team_channel_since_and_min_votes_filter(seeded: Any, run: Run) -> None:
    assert [p["arxiv_id"] for p in export_json(run, "--team", "T1")] == [FIRST, SECOND, HOSTILE]
    # Only the share in C2: the paper's activity is the activity on that post.
    (shared,) = export_json(run, "--channel", "C2")
    assert (shared["votes"], shared["reactions"], shared["replies"]) == (3, {"+1": 2, "thumbsup": 1}, 1)
    assert [p["kind"] for p in shared["posts"]] == ["share"]
    assert [p["arxiv_id"] for p in export_json(run, "--channel", "C2", "--channel", "C9")] == [OLD, FIRST]
    # Since the 26th: HOSTILE (26th) comes before FIRST, whose post in range is the share of the 27th.
    since = export_json(run, "--since", "2025-11-26")
    assert [p["arxiv_id"] for p in since] == [HOSTILE, FIRST]
    assert [p["ts"] for p in by_id(since)[FIRST]["posts"]] == [ts(27)]
    assert [p["arxiv_id"] for p in export_json(run, "--min-votes", "2")] == [FIRST]
    assert [p["arxiv_id"] for p in export_json(run, "--min-votes", "1", "--team", "T2")] == [OLD]
    assert export_json(run, "--team", "T9") == []


def test_public_only_keeps_to_channels_known_to_be_public(seeded: sessionmaker[Session], run: Run) -> None:
    with seeded.begin() as session:
        remember_privacy(session=session, team_id="T1", channel_id="C1", is_private=False)
        remember_privacy(session=session, team_id="T1", channel_id="C2", is_private=True)
        # T2/C9 was never checked: it counts as private.
    everything = export_json(run)  # the operator's default: private channels too
    assert {post["channel"] for paper in everything for post in paper["posts"]} == {"C1", "C2", "C9"}
    public = export_json(run, "--public-only")
    assert [p["arxiv_id"] for p in public] == [FIRST, SECOND, HOSTILE]
    first = by_id(public)[FIRST]
    assert [post["channel"] for post in first["posts"]] == ["C1"]  # the share in private C2 is left out
    assert (first["votes"], first["replies"]) == (2, 2)  # U1 and U2 on the digest; C2's votes and reply are gone


def test_since_is_a_day_in_the_configured_time_zone(
    seeded: Any, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # SECOND went out at 16:00 UTC on the 25th: already the 26th in Tokyo, so a Tokyo team's "since the 26th"
    # holds it (in UTC it does not: see the test above).
    env = {"DATABASE_URL": db_url, "PAPERBOT_TIMEZONE": "Asia/Tokyo"}
    result = CliRunner().invoke(cli, ["export", "--since", "2025-11-26"], env=env)
    assert result.exit_code == 0, result.output
    assert [p["arxiv_id"] for p in json.loads(result.stdout)] == [SECOND, HOSTILE, FIRST]


def test_vote_emoji_come_from_the_settings(
    seeded: Any, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"DATABASE_URL": db_url, "PAPERBOT_VOTE_EMOJI": "eyes"}
    result = CliRunner().invoke(cli, ["export", "--team", "T1"], env=env)
    assert by_id(json.loads(result.stdout))[FIRST]["votes"] == 1  # only U3 looked with :eyes:


def test_an_empty_database_exports_an_empty_array(run: Run) -> None:
    assert export_json(run) == []


# ---- CSV and BibTeX --------------------------------------------------------------------------------------------


def test_csv_has_one_row_per_paper_with_flat_columns(seeded: Any, run: Run) -> None:
    result = run("--format", "csv", "--team", "T1")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["arxiv_id"] for r in rows] == [FIRST, SECOND, HOSTILE]
    first = rows[0]
    assert (first["votes"], first["replies"], first["posts"]) == ("3", "3", "2")
    assert first["reactions"] == ":+1: 2; :eyes: 1; :fire: 1; :heart: 1; :thumbsup: 1"
    assert first["authors"] == "Ada Lovelace; Alan Turing"
    assert (first["channels"], first["teams"], first["kinds"]) == ("C1 C2", "T1", "digest share")
    assert (first["first_posted"], first["published"], first["hf_upvotes"]) == (
        "2025-11-25T09:00:00Z",
        "2024-10-17",
        "12",
    )
    assert first["url"] == "https://arxiv.org/abs/2410.13732"
    # A title or author a spreadsheet would run as a formula is defused; commas and quotes survive the round trip.
    assert (rows[1]["title"], rows[1]["authors"]) == ("'=cmd|' /C calc'!A0", "'-Mallory")
    assert rows[2]["title"] == " ".join(HOSTILE_TITLE.split())


def entries(bib: str) -> dict[str, str]:
    """Citation key -> entry body, read the way BibTeX reads them: braces nest, whatever precedes them."""
    found: dict[str, str] = {}
    pos = 0
    while (at := bib.find("@", pos)) != -1:
        match = re.compile(r"@(article|misc)\{([^,\s{}]+),").match(bib, at)
        assert match, f"not an entry at {bib[at : at + 40]!r}"
        depth, end = 1, match.end()
        while depth:
            assert end < len(bib), "an entry never closes"
            depth += {"{": 1, "}": -1}.get(bib[end], 0)
            end += 1
        found[match.group(2)] = bib[match.end() : end - 1]
        pos = end
    return found


def test_bibtex_has_one_balanced_entry_per_paper(seeded: Any, run: Run) -> None:
    result = run("--format", "bibtex")
    assert result.exit_code == 0, result.output
    found = entries(result.stdout)
    assert list(found) == ["arxiv_hep-th_9901001", "arxiv_2410.13732", "arxiv_2411.00042", "arxiv_2411.00001"]
    assert "@article{arxiv_2410.13732," in result.stdout  # a journal reference makes it an article
    first = found["arxiv_2410.13732"]
    for line in (
        "title         = {{Reducing the Transformer}}",
        "author        = {Ada Lovelace and Alan Turing}",
        "year          = {2024}",
        "eprint        = {2410.13732}",
        "archivePrefix = {arXiv}",
        "primaryClass  = {cs.CL}",
        "url           = {https://arxiv.org/abs/2410.13732}",
        "doi           = {10.1000/xyz_1}",
        r"journal       = {J. Imaginary Res. 1 (2024)}",
    ):
        assert line in first
    assert "year          = {1999}" in found["arxiv_hep-th_9901001"]  # from the old-style id
    hostile = found["arxiv_2411.00001"]
    assert balanced(hostile)
    assert "author        = {{R and D Team} and Émile Zola}" in hostile
    title = re.search(r"title\s+= \{\{(.*)\}\},\n", hostile)
    assert title is not None
    assert title.group(1) == (
        r"Pay 100\% \& \textbraceleft{}win\textbraceright{} \$x\_1 \#2 \textasciitilde{} \textasciicircum{} "
        r"\textbackslash{}input\textbraceleft{}/etc/passwd\textbraceright{} \textbraceright{}\textbraceleft{} "
        r"back\textbackslash{}slash $\alpha$-nets R\&D Schrödinger"
    )


# ---- -o ---------------------------------------------------------------------------------------------------------


def test_output_file_is_written_whole_and_reported(seeded: Any, run: Run, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "papers.csv"
    result = run("--format", "csv", "-o", target)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote 4 papers to {target} (csv)"
    assert len(list(csv.DictReader(target.open(newline="")))) == 4
    assert sorted(p.name for p in target.parent.iterdir()) == ["papers.csv"]


def test_a_failing_export_leaves_the_old_file_and_no_half_file(
    seeded: Any, run: Run, tmp_path: Path, engine: Engine
) -> None:
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "papers.json"
    target.write_text("the previous export\n")
    with engine.begin() as conn:  # a date Python cannot hold: reading HOSTILE's batch fails
        conn.execute(text("UPDATE papers SET published = '10000-01-01' WHERE arxiv_id = :id"), {"id": HOSTILE})
    result = run("-o", target, "--batch-size", "1")  # OLD, FIRST and SECOND are written before it fails
    assert result.exit_code == 1
    assert result.output.startswith("paperbot: export failed: ")
    assert result.output.strip().endswith(f"{target} was left as it was")
    assert len(result.output.strip().splitlines()) == 1
    assert target.read_text() == "the previous export\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["papers.json"]


def test_output_into_a_missing_directory_fails_in_one_line(run: Run, tmp_path: Path) -> None:
    result = run("-o", tmp_path / "nowhere" / "papers.json")
    assert result.exit_code == 1
    assert (
        result.output.strip() == f"paperbot: cannot write {tmp_path / 'nowhere' / 'papers.json'}: there is no "
        f"directory {tmp_path / 'nowhere'}"
    )


def test_an_unknown_format_is_a_usage_error(run: Run) -> None:
    result = run("--format", "xml")
    assert result.exit_code == 2
    assert "'xml' is not one of 'json', 'csv', 'bibtex'" in result.output


# ---- scale ------------------------------------------------------------------------------------------------------


def test_queries_do_not_grow_with_the_number_of_papers(
    sessions: sessionmaker[Session], engine: Engine, run: Run
) -> None:
    papers = [f"2501.{n:05d}" for n in range(1, 1201)]
    with sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=i, title=f"Paper {i}") for i in papers])
        session.execute(
            insert(Post),
            [
                {"team_id": "T1", "channel_id": "C1", "ts": f"{1764000000 + n}.000100", "arxiv_id": i, "kind": "digest"}
                for n, i in enumerate(papers)
            ],
        )
        session.execute(
            insert(Reaction),
            [
                {
                    "team_id": "T1",
                    "channel_id": "C1",
                    "message_ts": f"{1764000000 + n}.000100",
                    "user_id": f"U{n % 7}",
                    "emoji": "+1",
                    "arxiv_id": i,
                }
                for n, i in enumerate(papers)
            ],
        )
    statements: list[str] = []
    here = threading.get_ident()

    def listen(*args: Any) -> None:
        # Every engine of the process is heard (the export opens its own): count only this thread's statements,
        # not those of another test's background threads that share the process.
        if threading.get_ident() == here:
            statements.append(args[2])

    event.listen(engine.__class__, "before_cursor_execute", listen)
    try:
        exported = export_json(run)
    finally:
        event.remove(engine.__class__, "before_cursor_execute", listen)
    assert len(exported) == 1200 and all(p["votes"] == 1 for p in exported)
    reads = [s for s in statements if re.search(r"\bFROM (posts|papers|reactions|replies)\b", s)]
    assert len(reads) == 1 + 3 * 4  # one stream, then four queries for each batch of 500 papers


# ---- pure parts ---------------------------------------------------------------------------------------------------


def paper(**overrides: Any) -> PaperExport:
    values: dict[str, Any] = {
        "arxiv_id": "2410.13732",
        "title": "T",
        "authors": [],
        "published": None,
        "hf_upvotes": None,
        "votes": 0,
        "reactions": {},
        "replies": 0,
        "posts": [PostRef("T1", "C1", "1764115200.000100", "digest")],
    }
    return PaperExport(**{**values, **overrides})


def test_latex_keeps_good_math_and_accents_and_escapes_the_rest() -> None:
    kept = r"The $\Lambda$CDM and $\mathcal{O}(n^2)$ model"
    assert latex_text(kept) == kept
    assert latex_text(r"{\'E}cole \c{c}a \ss{} G\"{o}del") == "École ça ß Gödel"
    assert latex_text("$\\input{x}$") == r"\$\textbackslash{}input\textbraceleft{}x\textbraceright{}\$"
    assert latex_text("$^^5cinput$") == r"\$\textasciicircum{}\textasciicircum{}5cinput\$"
    assert not safe_math(r"\def\x{1}") and not safe_math("a % b") and not safe_math(r"{\alpha")
    for hostile in ("}}}{", "\\", "{\\", "$}$", "\\{", "%{", "a}\\textbf{"):
        assert balanced(latex_text(hostile)), hostile


def test_bibtex_entry_without_facts_is_a_misc_with_the_id_year() -> None:
    entry = bibtex_entry(paper(title="", authors=[]))
    assert entry.startswith("@misc{arxiv_2410.13732,\n")
    assert "year          = {2024}" in entry and "author" not in entry and "doi" not in entry
    assert "title         = {{2410.13732}}" in entry
    assert bibtex_key("hep-th/9901001") == "arxiv_hep-th_9901001"


def test_since_and_timestamps() -> None:
    assert since_ts(date(2025, 11, 26), "UTC") == "1764115200"
    assert since_ts(date(2025, 11, 26), "Europe/Berlin") == "1764111600"
    assert since_ts(date(1999, 1, 1), "UTC") is None  # before any Slack message
    assert since_ts(None, "UTC") is None
    assert ts_to_utc("1764115200.000100") == "2025-11-26T00:00:00Z"
    assert ts_to_utc("not-a-ts") == ""
    assert spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)" and spreadsheet_safe("Plain") == "Plain"


def test_slack_arguments_parse_in_any_order() -> None:
    assert parse_command("") == SlackRequest()
    assert parse_command("min-votes:2 all CSV since:2025-11-01") == SlackRequest(
        fmt="csv", since=date(2025, 11, 1), min_votes=2, all_channels=True
    )
    for bad, says in (
        ("xml", "`xml` is not an export format"),
        ("since:yesterday", "not `yesterday`"),
        ("min-votes:-1", "not `-1`"),
        ("csv json", "Give a format once"),
        ("since:2025-02-30", "YYYY-MM-DD"),
    ):
        with pytest.raises(ExportUsage, match=re.escape(says)):
            parse_command(bad)


def test_export_builders_are_valid_slack_messages() -> None:
    usage = blocks.export_usage("`xml` is not an export format", "/papers")
    blocks.validate(usage)
    assert "/papers export csv" in json.dumps(usage["blocks"])
    scope = blocks.export_scope(channel_id="C1", since=date(2025, 11, 1), min_votes=1)
    assert scope == "posted in <#C1> since 2025-11-01 with at least 1 vote"
    for where in ("channel", "dm", "nowhere", "empty"):
        reply = blocks.export_summary(
            count=2,
            fmt="bibtex",
            filename="paperbot-C1-2025-11-30.bib",
            where=where,
            scope=scope,
            error="<not_in_channel>",
        )
        blocks.validate(reply)
        assert "<not_in_channel>" not in reply["text"] and "\n" not in reply["text"]
    assert export_filename("bibtex", scope="C1", today=date(2025, 11, 30)) == "paperbot-C1-2025-11-30.bib"


def test_help_lists_export() -> None:
    assert "/papers export [json|csv|bibtex]" in help_text(None, "/papers")


# ---- fixes from a fresh-eyes review ----------------------------------------------------------------------------


def test_non_ascii_digits_are_a_usage_error_not_a_crash() -> None:
    for bad in ("min-votes:²", "min-votes:١٢"):  # str.isdigit() says yes to both; int() refuses "²"
        with pytest.raises(ExportUsage, match="takes a whole number"):
            parse_command(bad)


def test_a_since_day_after_2286_filters_every_post_out(seeded: Any, run: Run) -> None:
    # Ten-digit ts values compare as text: an eleven-digit threshold would sort before all of them.
    assert since_ts(date(2300, 1, 1), "UTC") == "9999999999.999999"
    assert export_json(run, "--since", "2300-01-01") == []


def test_output_keeps_an_existing_files_permissions(seeded: Any, run: Run, tmp_path: Path) -> None:
    private = tmp_path / "private.json"
    private.write_text("old", encoding="utf-8")
    private.chmod(0o640)
    result = run("-o", private)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(private.stat().st_mode) == 0o640
    assert len(json.loads(private.read_text(encoding="utf-8"))) == 4


def test_a_new_output_file_is_private_whatever_the_umask(seeded: Any, run: Run, tmp_path: Path) -> None:
    target = tmp_path / "papers.json"
    old = os.umask(0o002)
    try:
        result = run("-o", target)
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # the team's activity is not for every local user


@pytest.mark.parametrize("dangling", [False, True])
def test_output_onto_a_symlink_is_refused_and_nothing_is_written_through_it(
    seeded: Any, run: Run, tmp_path: Path, dangling: bool
) -> None:
    victim = tmp_path / "victim.txt"
    if not dangling:
        victim.write_text("someone else's file\n", encoding="utf-8")
        victim.chmod(0o644)
    link = tmp_path / "papers.json"
    link.symlink_to(victim)
    result = run("-o", link)
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"paperbot: cannot write {link}: it is a symbolic link (to {victim}); give the path of the file itself"
    )
    assert link.is_symlink()
    if dangling:
        assert not victim.exists()
    else:
        assert victim.read_text(encoding="utf-8") == "someone else's file\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_output_onto_a_fifo_is_refused(run: Run, tmp_path: Path) -> None:
    fifo = tmp_path / "papers.json"
    os.mkfifo(fifo)
    result = run("-o", fifo)
    assert result.exit_code == 1
    assert result.output.strip() == f"paperbot: cannot write {fifo}: it is not a regular file"


def test_two_dollar_amounts_in_a_title_are_not_math() -> None:
    assert latex_text("Pay $5 to save $10 on GPUs") == r"Pay \$5 to save \$10 on GPUs"
    assert latex_text("$k$-means in $O(n^2)$ for $2$-approximation") == "$k$-means in $O(n^2)$ for $2$-approximation"
