"""deploy/env.example is offered to docker compose (env_file), systemd (EnvironmentFile), `docker run --env-file`,
`kubectl create secret --from-env-file` and paperbot's own `.env` reading. They parse such files differently, so the
file must stay in the part they agree on: these tests read it the way each of them does.

The readers' rules, from their documentation: systemd (systemd.exec, EnvironmentFile=) skips lines starting with
# or ;, strips one pair of quotes around a value and backslash escapes, and knows no `export`; compose (its dotenv
format) accepts `export`, ends an unquoted value at " #", strips quotes and expands $VAR; docker run and kubectl take
everything after the first = literally, quotes and # included; python-dotenv is run for real.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from dotenv import dotenv_values

from bot.config import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "env.example"
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
Parsed = dict[str, str]


def _lines(text: str, comments: str = "#") -> list[tuple[str, str]]:
    pairs = []
    for raw in text.splitlines():
        line = raw.lstrip()
        if not line or line[0] in comments or "=" not in line:
            continue
        key, value = line.split("=", 1)
        pairs.append((key, value))
    return pairs


def systemd(text: str) -> Parsed:
    found = {}
    for key, value in _lines(text, comments="#;"):
        key, value = key.strip(), value.strip()
        if not KEY.fullmatch(key):  # `export X=1` is an invalid assignment: systemd ignores the line
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key] = re.sub(r"\\(.)", r"\1", value)
    return found


def expand(value: str, variables: dict[str, str]) -> str:
    """`$NAME` and `${NAME}` replaced by their values (empty when unknown), as the readers that expand do."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: variables.get(m[1], ""), value)


def compose(text: str, environment: Parsed | None = None) -> Parsed:
    found: Parsed = {}
    for key, value in _lines(text):
        key = key.removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            found[key] = value[1:-1]
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].rstrip()
        found[key] = expand(value, {**(environment or {}), **found})
    return found


def literal(text: str) -> Parsed:
    """docker run --env-file and kubectl --from-env-file: the key up to the first =, then the value as written."""
    return {key: value for key, value in _lines(text)}


def python_dotenv(text: str, tmp_path: Path) -> Parsed:
    path = tmp_path / "example.env"
    path.write_text(text, encoding="utf-8")
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


READERS: dict[str, Callable[[str], Parsed]] = {
    "systemd EnvironmentFile": systemd,
    "compose env_file": compose,
    "docker run --env-file / kubectl --from-env-file": literal,
}


def test_every_reader_gets_the_same_settings_from_env_example(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    expected = literal(text)
    for name, read in READERS.items():
        assert read(text) == expected, f"{name} reads env.example differently"
    assert python_dotenv(text, tmp_path) == expected, "paperbot's own .env reading differs"
    assert all(KEY.fullmatch(key) for key in expected)


def test_every_key_of_env_example_is_a_setting_paperbot_reads_and_takes() -> None:
    values = literal(EXAMPLE.read_text(encoding="utf-8"))
    aliases = {field.alias for field in Settings.model_fields.values() if field.alias}
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"} <= set(values)
    assert set(values) <= aliases, f"Settings reads none of {sorted(set(values) - aliases)}"
    settings = Settings(_env_file=EXAMPLE)
    dumped = settings.model_dump(by_alias=True, mode="json")
    for key, value in values.items():
        if not key.startswith("SLACK_"):  # secrets are masked in dumps
            assert str(dumped[key]) == value


@pytest.mark.parametrize(
    "line",
    [
        'SLACK_BOT_TOKEN="xoxb-1"',
        "PAPERBOT_TIMEZONE=UTC # the schedule's zone",
        "export PAPERBOT_DIGEST_SIZE=5",
        "SLACK_SIGNING_SECRET=ab$cd",
    ],
    ids=["quotes", "inline comment", "export", "dollar"],
)
def test_the_readers_really_disagree_on_what_env_example_must_avoid(line: str) -> None:
    """The check above can fail: on each of these lines at least two readers get different settings."""
    results = [read(line) for read in READERS.values()]
    assert any(result != results[0] for result in results[1:])
