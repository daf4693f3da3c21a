"""What paperbot asks of Slack, derived from the code, and the checker that compares a Slack app manifest with it.

- Slash commands and event types: the listeners the real Bolt app registers when built as `serve` builds it
  (plus the events the inbox middleware answers before any listener).
- Web API methods: every `<client>.<method>(...)` call in bot/ and handlers/ whose name is a slack_sdk WebClient
  method; each needs the scopes `API_SCOPES` records (Slack's documentation of that method).
- Unfurl domains: the hosts whose paper links `bot.links` recognises, probed through `bot.links.paper_id`.

`manifest_problems(manifest, surface)` lists every way a manifest differs from that surface; the manifest tests
assert it is empty for both manifests, and that it is not for manifests mutated on purpose.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import create_engine

from bot import links
from bot.app import build_app
from bot.config import Settings
from bot.deps import Deps
from bot.events import REACTIONS as INBOX_EVENTS
from storage.db import make_sessions
from tests.deploy.files import ROOT
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack

# The bot scope Slack documents for receiving each event a manifest may list; which of them it does list is
# derived from the listeners the app registers. app_home_opened, app_uninstalled and tokens_revoked need none.
EVENT_SCOPES: dict[str, set[str]] = {
    "reaction_added": {"reactions:read"},
    "reaction_removed": {"reactions:read"},
    "message.channels": {"channels:history"},
    "message.groups": {"groups:history"},
    "message.im": {"im:history"},
    "message.mpim": {"mpim:history"},
    "app_mention": {"app_mentions:read"},
    "link_shared": {"links:read"},
    "app_home_opened": set(),
    "app_uninstalled": set(),
    "tokens_revoked": set(),
}
# The bot scopes each Web API method needs (Slack's documentation of the method). Which of them a manifest must
# request is derived from the methods the code calls; a method called but missing here fails the check.
API_SCOPES: dict[str, set[str]] = {
    "auth_test": set(),
    "chat_postMessage": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},
    "chat_update": {"chat:write"},
    "chat_delete": {"chat:write"},
    "chat_getPermalink": set(),
    "chat_unfurl": {"links:write"},
    # in a DM (im:history): an alert taken over after a crash is looked up there, not re-sent
    "conversations_history": {"channels:history", "groups:history", "im:history"},
    # catch-up after downtime (bot.reconcile): a paper post's thread in public or private channels
    "conversations_replies": {"channels:history", "groups:history"},
    "conversations_open": {"im:write"},  # alert DMs; an export sent to its caller when the channel refuses it
    "conversations_info": {"channels:read", "groups:read"},  # is a channel private?
    "conversations_members": {"channels:read", "groups:read"},  # who may change a channel's digest settings
    "files_upload_v2": {"files:write"},  # files.getUploadURLExternal + files.completeUploadExternal
    "reactions_get": {"reactions:read"},
    "reactions_add": {"reactions:write"},
    "users_info": {"users:read"},
    "team_info": {"team:read"},
    "views_publish": set(),
    "views_open": set(),
    "views_update": set(),
}
COMMAND_SCOPES = {"commands"}
SLACK_UNFURL_DOMAIN_LIMIT = 5
HOST = r"(?![.-])[-a-z0-9.]+[a-z0-9]"  # an unfurl domain: a bare host name, no scheme or path
# Path forms of a paper link on the sites bot.links knows (arXiv abs/pdf/html, Hugging Face papers, alphaXiv).
LINK_FORMS = ("abs", "pdf", "html", "papers", "overview")
PROBE_ID = "2410.13732"


@dataclass(frozen=True)
class Surface:
    """What the code registers and calls: event types (`message`, not `message.channels`), slash commands, the
    Web API methods called, and the hosts whose links are recognised as papers."""

    events: frozenset[str] = field(default_factory=frozenset)
    commands: frozenset[str] = field(default_factory=frozenset)
    api_methods: frozenset[str] = field(default_factory=frozenset)
    link_hosts: frozenset[str] = field(default_factory=frozenset)

    def but(self, **changes: frozenset[str]) -> Surface:
        """A copy with some fields replaced: how the checker's own tests fake a code change."""
        return replace(self, **changes)


@contextmanager
def built_app() -> Iterator[App]:
    """The Bolt app as `serve` builds it (build_app), against the loopback Slack and an in-memory database."""
    slack = FakeSlack().start()
    engine = create_engine("sqlite://")
    try:
        settings = Settings(
            _env_file=None, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.url
        )
        yield build_app(Deps(settings=settings, engine=engine, sessions=make_sessions(engine)))
    finally:
        engine.dispose()
        slack.stop()


def registered_listeners() -> tuple[set[str], set[str]]:
    """(event types, slash commands) the real Bolt app registers, built as `serve` builds it against the
    loopback Slack, whichever module registers them."""
    events: set[str] = set()
    commands: set[str] = set()
    patch = pytest.MonkeyPatch()

    def recorder(name: str, into: set[str]) -> Any:
        original = getattr(App, name)

        def record(self: App, key: Any, *args: Any, **kwargs: Any) -> Any:
            into.add(str(key["type"] if isinstance(key, dict) else key))
            return original(self, key, *args, **kwargs)

        return record

    patch.setattr(App, "event", recorder("event", events))
    patch.setattr(App, "command", recorder("command", commands))
    try:
        with built_app():
            pass
    finally:
        patch.undo()
    assert events and commands, "the recorder saw no listener: has build_app stopped using App.event/App.command?"
    return events | INBOX_EVENTS, commands  # the inbox middleware (handlers/inbox.py) answers reactions itself


def called_api_methods(source_dirs: tuple[str, ...] = ("bot", "handlers")) -> set[str]:
    """Every WebClient method called as `<anything>.<method>(...)` in the code."""
    methods = {name for name in dir(WebClient) if not name.startswith("_")}
    called: set[str] = set()
    for directory in source_dirs:
        for path in (ROOT / directory).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods:
                    called.add(node.func.attr)
    return called


def recognised_link_hosts() -> set[str]:
    """The hosts named in bot/links.py (its constants, link patterns and unfurl domains) whose paper links it
    recognises."""
    source = (ROOT / "bot" / "links.py").read_text(encoding="utf-8").replace("\\.", ".")
    candidates = {host.lower() for host in re.findall(r"\b(?:[a-z0-9-]+\.)+[a-z]{2,}\b", source, re.IGNORECASE)}
    candidates |= set(getattr(links, "UNFURL_DOMAINS", ()))  # the hosts the unfurl code declares, if it does
    return {
        host
        for host in candidates
        if any(links.paper_id(f"https://{host}/{form}/{PROBE_ID}") == PROBE_ID for form in LINK_FORMS)
    }


def app_surface() -> Surface:
    events, commands = registered_listeners()
    return Surface(
        events=frozenset(events),
        commands=frozenset(commands),
        api_methods=frozenset(called_api_methods()),
        link_hosts=frozenset(recognised_link_hosts()),
    )


def event_type(manifest_event: str) -> str:
    """The event type a listener matches for a manifest's event: `message.groups` is a `message` in a group."""
    return manifest_event.split(".")[0]


def covers(domain: str, host: str) -> bool:
    """Slack sends link_shared for a registered domain's links and its subdomains'."""
    return host == domain or host.endswith("." + domain)


# ---- the checker -------------------------------------------------------------------------------------------


def command_problems(manifest: dict[str, Any], surface: Surface) -> list[str]:
    listed = [c["command"] for c in manifest["features"].get("slash_commands", [])]
    problems = [f"slash command {c} is listed twice" for c in sorted(set(listed)) if listed.count(c) > 1]
    problems += [f"slash command {c} is answered by nothing" for c in sorted(set(listed) - surface.commands)]
    problems += [f"the app answers {c}, which the manifest omits" for c in sorted(surface.commands - set(listed))]
    return problems


def event_problems(manifest: dict[str, Any], surface: Surface) -> list[str]:
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    problems = [f"event {e} is listed twice" for e in sorted(set(events)) if events.count(e) > 1]
    problems += [f"event {e}: add its scope to EVENT_SCOPES" for e in sorted(set(events) - set(EVENT_SCOPES))]
    # An event no listener answers is one Slack delivers for nothing (and retries after Bolt's 404)...
    problems += [f"subscribes to {e}, which nothing handles" for e in events if event_type(e) not in surface.events]
    # ...and a listener for an event the manifest leaves out never hears anything.
    subscribed = {event_type(e) for e in events}
    problems += [f"the app listens to {e}, which the manifest omits" for e in sorted(surface.events - subscribed)]
    return problems


def needed_scopes(manifest: dict[str, Any], surface: Surface) -> tuple[set[str], list[str]]:
    """The bot scopes the subscribed events, the called methods and the commands need, and the problems found
    on the way (a called method whose scopes nobody recorded)."""
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    unknown = sorted(surface.api_methods - set(API_SCOPES))
    problems = [f"the code calls {m}: record the scopes it needs in API_SCOPES" for m in unknown]
    needed = set().union(
        COMMAND_SCOPES if surface.commands else set(),
        *(EVENT_SCOPES.get(e, set()) for e in events),
        *(API_SCOPES.get(m, set()) for m in surface.api_methods),
    )
    return needed, problems


def scope_problems(manifest: dict[str, Any], surface: Surface) -> list[str]:
    granted = set(manifest["oauth_config"]["scopes"]["bot"])
    needed, problems = needed_scopes(manifest, surface)
    problems += [f"Slack would refuse an event or call without scope {s}" for s in sorted(needed - granted)]
    # Nothing unexplained: an installer is asked to grant exactly what the bot uses.
    problems += [f"scope {s} is granted but nothing uses it" for s in sorted(granted - needed)]
    return problems


def unfurl_problems(manifest: dict[str, Any], surface: Surface) -> list[str]:
    domains: list[str] = manifest["features"].get("unfurl_domains", [])
    if "link_shared" not in surface.events:
        return [f"unfurl domain {d}: Slack would send link_shared and nobody would answer" for d in domains]
    problems = [f"unfurl domain {d} is not a bare host name" for d in domains if not re.fullmatch(HOST, d)]
    if len(domains) > SLACK_UNFURL_DOMAIN_LIMIT:
        problems.append(f"{len(domains)} unfurl domains, Slack takes {SLACK_UNFURL_DOMAIN_LIMIT}")
    problems += [
        f"unfurl domain {d} has no paper links bot.links recognises"
        for d in domains
        if not any(covers(d, host) for host in surface.link_hosts)
    ]
    problems += [
        f"links to {host} are recognised as papers but no unfurl domain covers them"
        for host in sorted(surface.link_hosts)
        if not any(covers(d, host) for d in domains)
    ]
    return problems


def manifest_problems(manifest: dict[str, Any], surface: Surface) -> list[str]:
    """Every way `manifest` differs from what the code registers and calls; [] when it matches."""
    return [
        *command_problems(manifest, surface),
        *event_problems(manifest, surface),
        *scope_problems(manifest, surface),
        *unfurl_problems(manifest, surface),
    ]
