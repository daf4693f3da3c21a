"""The Slack app manifests list exactly what the code registers: commands, events, scopes and unfurl domains.

A wrong scope or event here is what an operator meets as "the bot posts nothing", so the expected lists are not
written down here: tests/deploy/slack_surface.py derives them from the built app and the code, and its checker
is itself tested against manifests mutated on purpose (a drifted manifest must be caught).
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from handlers.commands import SUBCOMMANDS
from tests.deploy.files import DEPLOY, load_yaml
from tests.deploy.slack_surface import (
    EVENT_SCOPES,
    Surface,
    app_surface,
    command_problems,
    event_problems,
    event_type,
    manifest_problems,
    scope_problems,
    unfurl_problems,
)

MANIFESTS = {"socket": DEPLOY / "slack-manifest.yaml", "http": DEPLOY / "slack-manifest-http.yaml"}
HTTP_EVENTS_URL = "https://paperbot.example.com/slack/events"
# Subcommands announced for later: a manifest names none of them until handlers/commands.py answers it.
LATER = ("search", "show", "top", "rank", "filter", "subscribe", "unsubscribe", "subscriptions", "recap")


@functools.cache
def cached_surface() -> Surface:
    return app_surface()


def app_surface_events() -> frozenset[str]:
    return cached_surface().events


@pytest.fixture
def surface() -> Surface:
    return cached_surface()


def manifest(kind: str) -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(MANIFESTS[kind])
    return data


# ---- every file parses -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(DEPLOY.rglob("*.y*ml")), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    docs = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]
    assert docs and all(isinstance(doc, dict) for doc in docs)


def test_deploy_holds_every_promised_file() -> None:
    expected = {
        "slack-manifest.yaml",
        "slack-manifest-http.yaml",
        "Dockerfile",
        "compose.yaml",
        "paperbot.service",
        "env.example",
        "k8s/secret.example.yaml",
        "k8s/migrate-job.yaml",
        "k8s/deployment.yaml",
        "k8s/service.yaml",
        "k8s/ingress.yaml",
        "k8s/pdb.yaml",
    }
    present = {str(p.relative_to(DEPLOY)) for p in DEPLOY.rglob("*") if p.is_file()}
    assert expected <= present


# ---- derived from the code: both manifests match it --------------------------------------------------------


def test_the_surface_is_derived_from_the_real_app(surface: Surface) -> None:
    """What the derivation finds today, so a derivation that quietly finds nothing cannot pass the checks."""
    assert "/papers" in surface.commands
    assert {"message", "reaction_added", "app_home_opened", "app_mention"} <= surface.events
    assert {"chat_postMessage", "views_publish", "conversations_open"} <= surface.api_methods
    assert {"arxiv.org", "huggingface.co", "hf.co", "alphaxiv.org"} <= surface.link_hosts


@pytest.mark.parametrize("kind", MANIFESTS)
@pytest.mark.parametrize("check", [command_problems, event_problems, scope_problems, unfurl_problems])
def test_manifest_lists_exactly_what_the_code_registers(
    kind: str, check: Callable[[dict[str, Any], Surface], list[str]], surface: Surface
) -> None:
    assert check(manifest(kind), surface) == [], MANIFESTS[kind].name


# ---- the checker catches drift ------------------------------------------------------------------------------


def drop_command(m: dict[str, Any]) -> None:
    m["features"]["slash_commands"].pop()


def add_command(m: dict[str, Any]) -> None:
    m["features"]["slash_commands"].append({"command": "/paper", "description": "x", "should_escape": True})


def drop_event(m: dict[str, Any]) -> None:
    m["settings"]["event_subscriptions"]["bot_events"].remove("reaction_removed")


def add_unanswered_event(m: dict[str, Any]) -> None:
    """An event Slack documents (its scope granted too) that no listener answers: one of the table's if any is
    unanswered, else `channel_created` (channels:read, already granted)."""
    unanswered = sorted(e for e in EVENT_SCOPES if event_type(e) not in app_surface_events())
    event, scopes = (unanswered[0], EVENT_SCOPES[unanswered[0]]) if unanswered else ("channel_created", set())
    assert event_type(event) not in app_surface_events()
    m["settings"]["event_subscriptions"]["bot_events"].append(event)
    m["oauth_config"]["scopes"]["bot"].extend(scopes)


def add_unknown_event(m: dict[str, Any]) -> None:
    m["settings"]["event_subscriptions"]["bot_events"].append("team_join")


def drop_scope(m: dict[str, Any]) -> None:
    m["oauth_config"]["scopes"]["bot"].remove("chat:write")


def add_scope(m: dict[str, Any]) -> None:
    m["oauth_config"]["scopes"]["bot"].append("chat:write.public")


def add_unfurl_domain(m: dict[str, Any]) -> None:
    m["features"].setdefault("unfurl_domains", []).append("example.com")


MUTATIONS = [drop_command, add_command, drop_event, add_unanswered_event, add_unknown_event]
MUTATIONS += [drop_scope, add_scope, add_unfurl_domain]


@pytest.mark.parametrize("kind", MANIFESTS)
@pytest.mark.parametrize("mutate", MUTATIONS)
def test_a_drifted_manifest_is_caught(kind: str, mutate: Callable[[dict[str, Any]], None], surface: Surface) -> None:
    drifted = copy.deepcopy(manifest(kind))
    mutate(drifted)
    assert manifest_problems(drifted, surface), f"{mutate.__name__} went unnoticed"


def test_code_that_drifts_from_the_manifest_is_caught(surface: Surface) -> None:
    """The other direction: the code gains a command, a listener, a Web API call or a link form."""
    data = manifest("http")
    assert command_problems(data, surface.but(commands=surface.commands | {"/paper"}))
    assert event_problems(data, surface.but(events=surface.events | {"member_joined_channel"}))
    missing_scope = scope_problems(data, surface.but(api_methods=surface.api_methods | {"reactions_add"}))
    assert missing_scope == ["Slack would refuse an event or call without scope reactions:write"]
    unknown = scope_problems(data, surface.but(api_methods=surface.api_methods | {"admin_users_list"}))
    assert unknown == ["the code calls admin_users_list: record the scopes it needs in API_SCOPES"]
    fewer_calls = scope_problems(data, surface.but(api_methods=surface.api_methods - {"files_upload_v2"}))
    assert fewer_calls == ["scope files:write is granted but nothing uses it"]


def test_unfurl_domains_follow_link_shared_and_the_recognised_links(surface: Surface) -> None:
    """Once link_shared is answered, the domains must cover exactly the hosts whose links are papers."""
    answering = surface.but(events=surface.events | {"link_shared"})
    silent = surface.but(events=surface.events - {"link_shared"})
    data = copy.deepcopy(manifest("http"))
    data["features"].pop("unfurl_domains", None)
    assert unfurl_problems(data, answering) != []  # no domains: no link would ever be unfurled
    assert unfurl_problems(data, silent) == []
    data["features"]["unfurl_domains"] = ["arxiv.org", "huggingface.co", "hf.co", "alphaxiv.org"]
    assert unfurl_problems(data, answering) == []
    assert unfurl_problems(data, silent) != []  # domains while nothing answers link_shared
    data["features"]["unfurl_domains"] = ["arxiv.org", "huggingface.co", "hf.co", "www.alphaxiv.org"]
    assert unfurl_problems(data, answering) == [
        "links to alphaxiv.org are recognised as papers but no unfurl domain covers them"
    ]
    data["features"]["unfurl_domains"] = ["arxiv.org", "huggingface.co", "hf.co", "alphaxiv.org", "github.com"]
    assert unfurl_problems(data, answering) == ["unfurl domain github.com has no paper links bot.links recognises"]


# ---- what the manifests say beyond the derived lists -------------------------------------------------------


@pytest.mark.parametrize("kind", MANIFESTS)
def test_papers_command_is_described_and_escaped(kind: str) -> None:
    papers = next(c for c in manifest(kind)["features"]["slash_commands"] if c["command"] == "/papers")
    assert papers["description"] and len(papers["description"]) <= 2000
    assert len(papers["usage_hint"]) <= 1000
    assert papers["should_escape"] is True  # channel: terms need the channel ids Slack sends only when escaping


@pytest.mark.parametrize("kind", MANIFESTS)
def test_papers_usage_hint_promises_only_built_subcommands(kind: str) -> None:
    papers = next(c for c in manifest(kind)["features"]["slash_commands"] if c["command"] == "/papers")
    hinted = {alternative.split()[0] for alternative in re.split(r" \| ", papers["usage_hint"])}
    assert hinted == set(SUBCOMMANDS) - {""}
    words = set(re.findall(r"[a-z]+", papers["description"].lower()))
    assert not words & (set(LATER) - set(SUBCOMMANDS)), papers["description"]


@pytest.mark.parametrize("kind", MANIFESTS)
def test_chat_write_public_is_never_requested(kind: str) -> None:
    # The bot must be a member of a channel to hear its reactions and replies.
    assert "chat:write.public" not in manifest(kind)["oauth_config"]["scopes"]["bot"]


@pytest.mark.parametrize("kind", MANIFESTS)
def test_every_scope_is_justified_by_a_comment(kind: str) -> None:
    lines = MANIFESTS[kind].read_text(encoding="utf-8").splitlines()
    start = lines.index("    bot:")
    for index in range(start + 1, len(lines)):
        line = lines[index].strip()
        if not line.startswith(("- ", "#")):
            break
        if line.startswith("- "):
            assert lines[index - 1].strip().startswith("#"), f"scope {line[2:]} has no comment saying why"


@pytest.mark.parametrize("kind", MANIFESTS)
def test_manifest_names_the_app_and_enables_home_and_interactivity(kind: str) -> None:
    data = manifest(kind)
    info = data["display_information"]
    assert info["name"] == "paperbot" and len(info["name"]) <= 35
    assert 1 <= len(info["description"]) <= 140
    assert "long_description" not in info or 175 <= len(info["long_description"]) <= 4000
    assert 1 <= len(data["features"]["bot_user"]["display_name"]) <= 80
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    assert data["features"]["app_home"]["messages_tab_enabled"] is True
    assert data["settings"]["interactivity"]["is_enabled"] is True


def test_socket_mode_manifest_needs_no_public_url() -> None:
    data = manifest("socket")
    assert data["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in data["settings"]["event_subscriptions"]
    assert "request_url" not in data["settings"]["interactivity"]
    assert all("url" not in c for c in data["features"]["slash_commands"])


def test_http_manifest_sends_everything_to_slack_events() -> None:
    data = manifest("http")
    settings = data["settings"]
    assert settings["socket_mode_enabled"] is False
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in data["features"]["slash_commands"]),
    ]
    assert len(urls) == 3
    assert all(url == HTTP_EVENTS_URL for url in urls)
    assert all(url.startswith("https://") and url.endswith("/slack/events") for url in urls)


def test_the_two_manifests_differ_only_in_transport() -> None:
    socket, http = manifest("socket"), manifest("http")
    for command in http["features"]["slash_commands"]:
        command.pop("url")
    for data in (socket, http):
        data["settings"].pop("socket_mode_enabled")
        data["settings"]["event_subscriptions"].pop("request_url", None)
        data["settings"]["interactivity"].pop("request_url", None)
    assert socket == http


@pytest.mark.parametrize("kind", MANIFESTS)
def test_an_oauth_install_asks_for_exactly_the_manifests_scopes(kind: str) -> None:
    from bot.installs import BOT_SCOPES

    assert sorted(BOT_SCOPES) == sorted(manifest(kind)["oauth_config"]["scopes"]["bot"])
