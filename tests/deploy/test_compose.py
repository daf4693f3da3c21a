"""deploy/compose.yaml: valid under the Compose specification (its JSON schema, vendored), and consistent with the
image and the app: migrate once, then two replicas that probe the port `paperbot serve` listens on.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.deploy.files import DEPLOY, ROOT, compose, health_urls, instruction, serve_default_port
from tests.deploy.validation import COMPOSE_SCHEMA, compose_schema_problems

# ---- the Compose specification -----------------------------------------------------------------------------


def test_compose_file_is_valid_under_the_compose_specification() -> None:
    assert compose_schema_problems(compose()) == []


def misspelt_key(c: dict[str, Any]) -> None:
    c["services"]["db"]["helthcheck"] = c["services"]["db"].pop("healthcheck")


def condition_unknown(c: dict[str, Any]) -> None:
    c["services"]["paperbot"]["depends_on"]["migrate"]["condition"] = "service_finished"


def misspelt_top_level_key(c: dict[str, Any]) -> None:
    c["volume"] = c.pop("volumes")


def ports_as_mapping(c: dict[str, Any]) -> None:
    c["services"]["paperbot"]["ports"] = {"3000": 3000}


def no_services(c: dict[str, Any]) -> None:
    c["services"] = [c["services"]]


@pytest.mark.parametrize(
    "mutate", [misspelt_key, condition_unknown, misspelt_top_level_key, ports_as_mapping, no_services]
)
def test_a_broken_compose_file_is_caught(mutate: Callable[[dict[str, Any]], None]) -> None:
    broken = copy.deepcopy(compose())
    mutate(broken)
    assert compose_schema_problems(broken), f"{mutate.__name__} went unnoticed"


def test_the_vendored_schema_is_the_compose_specification() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    assert schema["title"] == "Compose Specification"
    assert {"services", "volumes", "networks", "secrets", "configs"} <= set(schema["properties"])
    assert (COMPOSE_SCHEMA.parent / "LICENSE.compose-spec").read_text(encoding="utf-8").lstrip().startswith("Apache")
    # The file is the one its README names (package, version, hash): an edit by hand would show here.
    digest = hashlib.sha256(COMPOSE_SCHEMA.read_bytes()).hexdigest()
    assert f"`{digest}`" in (COMPOSE_SCHEMA.parent / "README.md").read_text(encoding="utf-8")


# ---- consistent with the image and the app -----------------------------------------------------------------


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
