"""The lookups' world: a running bot on the sample papers, with one paper discussed in a public and a private
channel (tests/handlers/lookups/world.py), wired to the loopback Slack, Hugging Face and arXiv."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.config import Settings
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.hf import FakeHF
from tests.fakes.slack import FakeSlack
from tests.handlers.lookups.world import PRIVATE, seed_discussion
from tests.running import RunningBot, bot_settings, running_bot


@pytest.fixture
def settings(db_url: str, slack: FakeSlack, hf: FakeHF, fake_arxiv: FakeArxiv) -> Settings:
    return bot_settings(db_url, slack, hf_api_url=hf.url, arxiv_api_url=fake_arxiv.url)


@pytest.fixture
def bot(settings: Settings, slack: FakeSlack) -> Iterator[RunningBot]:
    slack.private_channels.add(PRIVATE)
    with running_bot(settings) as running:
        seed_discussion(running.deps)
        yield running
