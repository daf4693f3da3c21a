"""deploy/: the Slack app manifests, image, compose file, Kubernetes and systemd files say what the bot needs.

A wrong scope, event, URL, port or health path here is what an operator meets as "the bot posts nothing" or
"the pod keeps restarting", so these tests read the real files and compare them with the real code.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
import yaml
from slack_bolt import App
from sqlalchemy import Engine, create_engine

from bot.app import build_app
from bot.cli import serve
from bot.config import Settings
from bot.deps import Deps
from bot.events import REACTIONS as INBOX_EVENTS
from bot.links import UNFURL_DOMAINS, paper_id
from bot.server import make_wsgi
from handlers.commands import SUBCOMMANDS
from storage.db import make_sessions
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MANIFESTS = {"socket": DEPLOY / "slack-manifest.yaml", "http": DEPLOY / "slack-manifest-http.yaml"}
HTTP_EVENTS_URL = "https://paperbot.example.com/slack/events"

# The bot scope Slack documents for receiving each event (app_home_opened needs none), for the events a manifest
# may list; which of them it does list is derived from the listeners the app registers (`registered` below).
EVENT_SCOPES = {
    "reaction_added": {"reactions:read"},
    "reaction_removed": {"reactions:read"},
    "message.channels": {"channels:history"},
    "message.groups": {"groups:history"},
    "message.im": {"im:history"},
    "message.mpim": {"mpim:history"},
    "app_mention": {"app_mentions:read"},
    "link_shared": {"links:read"},
    "app_home_opened": set(),
}
# The WebClient methods paperbot calls (each must appear in bot/ or handlers/) and the scope each needs.
API_SCOPES = {
    "chat_postMessage": {"chat:write"},
    # in a DM (im:history): an alert taken over after a crash is looked up there, not re-sent
    "conversations_history": {"channels:history", "groups:history", "im:history"},
    "conversations_open": {"im:write"},  # alert DMs; an export sent to its caller when the channel refuses it
    "files_upload_v2": {"files:write"},  # files.getUploadURLExternal + files.completeUploadExternal
    "views_publish": set(),
    "conversations_info": {"channels:read", "groups:read"},  # is a channel private? (lookups keep its talk inside)
    "chat_getPermalink": set(),
    # who may change a channel's digest settings (bot/access.py): its members, or a workspace admin
    "conversations_members": {"channels:read", "groups:read"},
    "users_info": {"users:read"},
    # catch-up after downtime (bot.reconcile): a paper post's reactions, and its thread in public or private channels
    "reactions_get": {"reactions:read"},
    "conversations_replies": {"channels:history", "groups:history"},
    "chat_unfurl": {"links:write"},  # a paper link's card with the team's history (bot/unfurls.py)
}
COMMAND_SCOPES = {"commands"}
# Subcommands announced for later: a manifest names none of them until handlers/commands.py answers it.
LATER = ("search", "show", "top", "rank", "filter", "subscribe", "unsubscribe", "subscriptions", "recap")


@dataclass
class Registered:
    """What the real app listens to: event types (`message`, not `message.channels`) and slash commands."""

    events: set[str] = field(default_factory=set)
    commands: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def registered() -> Registered:
    """Build the Bolt app as `serve` does (build_app, against the loopback Slack) and record every listener it
    registers, whichever module registers it."""
    seen = Registered()
    patch = pytest.MonkeyPatch()

    def recorder(name: str, into: set[str]) -> Any:
        original = getattr(App, name)

        def record(self: App, key: Any, *args: Any, **kwargs: Any) -> Any:
            into.add(str(key["type"] if isinstance(key, dict) else key))
            return original(self, key, *args, **kwargs)

        return record

    patch.setattr(App, "event", recorder("event", seen.events))
    patch.setattr(App, "command", recorder("command", seen.commands))
    slack = FakeSlack().start()
    engine = create_engine("sqlite://")
    try:
        settings = Settings(
            _env_file=None, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.url
        )
        build_app(Deps(settings=settings, engine=engine, sessions=make_sessions(engine)))
    finally:
        patch.undo()
        engine.dispose()
        slack.stop()
    assert seen.events and seen.commands
    seen.events |= INBOX_EVENTS  # answered by the inbox middleware (handlers/inbox.py), before any listener
    return seen


def event_type(manifest_event: str) -> str:
    """The event type a listener matches for a manifest's event: `message.groups` is a `message` in a group."""
    return manifest_event.split(".")[0]


def source_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for d in ("bot", "handlers") for p in (ROOT / d).rglob("*.py"))


def serve_default_port() -> int:
    """The port `paperbot serve` listens on when none is given: every probe must point at it."""
    port = next(p.default for p in serve.params if p.name == "port")
    assert isinstance(port, int)
    return port


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def manifest(kind: str) -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(MANIFESTS[kind])
    return data


def k8s(kind: str) -> dict[str, Any]:
    """The one Kubernetes object of `kind` under deploy/k8s/."""
    found = [
        doc
        for path in sorted((DEPLOY / "k8s").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc and doc["kind"] == kind
    ]
    assert len(found) == 1, f"expected one {kind} in deploy/k8s, found {len(found)}"
    manifest: dict[str, Any] = found[0]
    return manifest


def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(DEPLOY / "compose.yaml")
    return data


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def instruction(name: str) -> str:
    found = [args for instr, args in dockerfile() if instr == name]
    assert found, f"the Dockerfile has no {name}"
    return found[-1]  # Docker uses the last one


def health_urls(text: str) -> list[tuple[int, str]]:
    """(port, path) of every loopback URL in a health-check command."""
    pattern = r"http://(?:127\.0\.0\.1|localhost):(\d+)(/[\w/]*)"
    return [(int(port), path) for port, path in re.findall(pattern, text)]


def known_variables() -> set[str]:
    """Every environment variable Settings reads."""
    return {field.alias for field in Settings.model_fields.values() if field.alias}


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
    }
    present = {str(p.relative_to(DEPLOY)) for p in DEPLOY.rglob("*") if p.is_file()}
    assert expected <= present


# ---- Slack app manifests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", MANIFESTS)
def test_manifest_declares_exactly_the_commands_the_app_answers(kind: str, registered: Registered) -> None:
    commands = {c["command"]: c for c in manifest(kind)["features"]["slash_commands"]}
    assert set(commands) == registered.commands
    papers = commands["/papers"]
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
def test_manifest_events_are_exactly_the_events_the_app_listens_to(kind: str, registered: Registered) -> None:
    events = manifest(kind)["settings"]["event_subscriptions"]["bot_events"]
    assert len(events) == len(set(events))
    assert set(events) <= set(EVENT_SCOPES), f"add the scope of {sorted(set(events) - set(EVENT_SCOPES))}"
    # An event no listener answers is one Slack delivers for nothing (and retries after Bolt's 404)...
    unanswered = {e for e in events if event_type(e) not in registered.events}
    assert not unanswered, f"{MANIFESTS[kind].name} subscribes to {sorted(unanswered)}, which nothing handles"
    # ...and a listener for an event the manifest leaves out never hears anything.
    unsubscribed = registered.events - {event_type(e) for e in events}
    assert not unsubscribed, f"the app listens to {sorted(unsubscribed)}, which {MANIFESTS[kind].name} omits"


def test_every_web_api_method_we_grant_a_scope_for_is_called() -> None:
    code = source_text()
    unused = [method for method in API_SCOPES if f".{method}(" not in code]
    assert not unused, f"nothing in bot/ or handlers/ calls {unused}; drop them and their scopes"


@pytest.mark.parametrize("kind", MANIFESTS)
def test_manifest_requests_the_scopes_our_events_and_calls_need(kind: str) -> None:
    data = manifest(kind)
    scopes = set(data["oauth_config"]["scopes"]["bot"])
    events = data["settings"]["event_subscriptions"]["bot_events"]
    needed = set().union(COMMAND_SCOPES, *(EVENT_SCOPES[e] for e in events), *API_SCOPES.values())
    missing = needed - scopes
    assert not missing, f"Slack would refuse these events/calls without {sorted(missing)}"
    # Nothing unexplained: an installer is asked to grant exactly what the bot uses.
    assert scopes == needed, f"granted but unused: {sorted(scopes - needed)}"
    assert "chat:write.public" not in scopes  # the bot must be a member to hear reactions and replies


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
def test_manifest_asks_for_unfurls_only_when_link_shared_is_answered(kind: str, registered: Registered) -> None:
    domains = manifest(kind)["features"].get("unfurl_domains", [])
    if "link_shared" not in registered.events:
        assert domains == [], "Slack would send link_shared for these domains and nobody would answer"
    assert len(domains) <= 5  # Slack's limit
    assert all(re.fullmatch(r"(?![.-])[-a-z0-9.]+[a-z0-9]", d) for d in domains)


@pytest.mark.parametrize("kind", MANIFESTS)
def test_manifest_unfurls_exactly_the_hosts_whose_paper_links_we_read(kind: str, registered: Registered) -> None:
    assert "link_shared" in registered.events
    assert manifest(kind)["features"]["unfurl_domains"] == list(UNFURL_DOMAINS)
    # Every domain is one bot/links.py reads paper links of (a subdomain too), and no link form is left out.
    for domain in UNFURL_DOMAINS:
        assert paper_id(f"https://{domain}/abs/2410.13732") or paper_id(f"https://{domain}/papers/2410.13732")
    for url in ("https://www.alphaxiv.org/overview/2410.13732", "https://export.arxiv.org/abs/2410.13732"):
        host = url.split("/")[2]
        assert paper_id(url) == "2410.13732" and any(host == d or host.endswith("." + d) for d in UNFURL_DOMAINS)


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


# ---- container image ---------------------------------------------------------------------------------------


def test_image_runs_paperbot_serve_on_its_default_port() -> None:
    port = serve_default_port()
    assert port == 3000
    assert json.loads(instruction("ENTRYPOINT")) == ["paperbot"]
    assert json.loads(instruction("CMD")) == ["serve", "--http", "--port", str(port)]
    assert instruction("EXPOSE").split() == [str(port)]
    assert instruction("FROM").split()[0] == "python:3.11-slim"


def test_image_runs_as_a_non_root_user() -> None:
    user = instruction("USER").split(":")[0]
    assert user not in {"0", "root"}
    # Numeric, so Kubernetes' runAsNonRoot can check it, and the same uid the k8s manifests expect.
    assert user == str(k8s("Deployment")["spec"]["template"]["spec"]["securityContext"]["runAsUser"])


def test_image_healthcheck_probes_healthz_on_the_serve_port() -> None:
    assert health_urls(instruction("HEALTHCHECK")) == [(serve_default_port(), "/healthz")]


def test_image_installs_every_package_pyproject_ships() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    copied = {part for instr, args in dockerfile() if instr == "COPY" for part in args.split()[:-1]}
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages | {"pyproject.toml", pyproject["project"]["readme"]} <= copied
    assert any(instr == "RUN" and re.search(r"pip install (--no-deps )?\.(\s|$)", args) for instr, args in dockerfile())
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not [c for c in copied if any(fnmatch.fnmatch(c, pattern) for pattern in ignored)]
    assert {".env", ".git", ".venv"} <= set(ignored)  # secrets and bulk never enter the build context


def test_healthz_is_what_the_server_answers(engine: Engine) -> None:
    """The probe path in the Dockerfile is a real route: 200 with the database reachable."""
    [(_, path)] = health_urls(instruction("HEALTHCHECK"))
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    statuses: list[str] = []
    body = b"".join(make_wsgi(None, engine)(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["200 OK"]
    assert json.loads(body)["ok"] is True


# ---- docker compose ----------------------------------------------------------------------------------------


def test_compose_runs_two_bot_replicas_after_one_migration() -> None:
    services = compose()["services"]
    bot, migrate = services["paperbot"], services["migrate"]
    assert bot["deploy"]["replicas"] >= 2
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["restart"] == "no"
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["environment"]["PAPERBOT_AUTO_MIGRATE"] == "0"  # replicas must not race to migrate


def test_compose_database_is_postgres_with_a_volume_and_healthcheck() -> None:
    data = compose()
    db = data["services"]["db"]
    assert db["image"] == "postgres:16"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume = db["volumes"][0].split(":")[0]
    assert volume in data["volumes"]
    for name in ("migrate", "paperbot"):
        service = data["services"][name]
        assert service["env_file"] == ".env"
        url = service["environment"]["DATABASE_URL"]
        assert "postgresql+psycopg://paperbot:paperbot@db/paperbot" in url


def test_compose_bot_healthcheck_and_command_use_the_serve_port() -> None:
    bot = compose()["services"]["paperbot"]
    port = serve_default_port()
    assert health_urls(" ".join(bot["healthcheck"]["test"])) == [(port, "/healthz")]
    assert bot["command"] == json.loads(instruction("CMD"))
    assert all(str(mapping).endswith(f":{port}") for mapping in bot["ports"])


def test_compose_builds_from_the_repository_with_our_dockerfile() -> None:
    build = compose()["services"]["paperbot"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == ROOT
    assert (context / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


# ---- Kubernetes --------------------------------------------------------------------------------------------


def test_k8s_deployment_runs_two_healthy_non_root_replicas() -> None:
    deployment = k8s("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    port = serve_default_port()
    assert deployment["spec"]["replicas"] >= 2
    assert pod["securityContext"]["runAsNonRoot"] is True
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": port}
    assert [p["containerPort"] for p in container["ports"]] == [port]
    assert container["args"] == ["serve", "--http", "--port", str(port)]
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert {"name": "PAPERBOT_AUTO_MIGRATE", "value": "0"} in container["env"]


def test_k8s_job_and_deployment_share_the_image_and_the_secret() -> None:
    secret_name = k8s("Secret")["metadata"]["name"]
    [job] = k8s("Job")["spec"]["template"]["spec"]["containers"]
    [bot] = k8s("Deployment")["spec"]["template"]["spec"]["containers"]
    assert job["args"] == ["db", "upgrade"]
    assert job["image"] == bot["image"]
    for container in (job, bot):
        assert container["envFrom"] == [{"secretRef": {"name": secret_name}}]
    assert k8s("Job")["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_k8s_service_routes_to_the_bot_pods() -> None:
    service, deployment = k8s("Service"), k8s("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == [serve_default_port()]


def test_k8s_secret_example_holds_placeholders_for_real_settings() -> None:
    secret = k8s("Secret")
    assert "data" not in secret  # stringData: readable placeholders, no base64
    keys = set(secret["stringData"])
    assert {"DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"} <= keys
    assert keys <= known_variables(), f"Settings reads none of {sorted(keys - known_variables())}"
    assert not any(v.startswith("xoxb-") and "CHANGE-ME" not in v for v in secret["stringData"].values())


# ---- systemd -----------------------------------------------------------------------------------------------


def test_systemd_unit_migrates_then_serves_and_restarts_on_failure() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((DEPLOY / "paperbot.service").read_text(encoding="utf-8"))
    service = unit["Service"]
    assert shlex.split(service["ExecStartPre"])[1:] == ["db", "upgrade"]
    assert shlex.split(service["ExecStartPre"])[0].endswith("/paperbot")
    start = shlex.split(service["ExecStart"])
    assert start[1] == "serve" and start[start.index("--port") + 1] == str(serve_default_port())
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"].startswith("/")
    assert service.get("DynamicUser") == "yes" or service.get("User") == "paperbot"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
