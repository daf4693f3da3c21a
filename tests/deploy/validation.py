"""Schema validation of deploy/, offline: compose.yaml against the Compose specification's JSON schema (vendored
in tests/deploy/schemas/, see its README.md) and the Kubernetes objects against the API's JSON schemas that the
kubernetes-validate package ships (strict: an unknown or misspelt field is an error, as `kubectl apply
--validate=strict` makes it).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jsonschema
import kubernetes_validate
from kubernetes_validate.utils import all_versions

from tests.deploy.files import SCHEMAS

COMPOSE_SCHEMA = SCHEMAS / "compose-spec.json"


@functools.cache
def compose_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def where(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top)"


def compose_schema_problems(data: Any) -> list[str]:
    """Every place a compose file (as parsed YAML) breaks the Compose specification; [] when it is valid."""
    errors = sorted(compose_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{where(e)}: {e.message}" for e in errors]


def k8s_versions() -> tuple[str, ...]:
    """The oldest and the newest Kubernetes release whose schemas kubernetes-validate ships."""
    versions = all_versions()
    return (versions[0], versions[-1])


def k8s_schema_problems(doc: dict[str, Any], versions: tuple[str, ...] | None = None) -> list[str]:
    """Every Kubernetes release in `versions` whose API schema `doc` breaks, with why; [] when it is valid."""
    problems = []
    for version in versions or k8s_versions():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{doc.get('kind')} on Kubernetes {version}: {where(error)}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            problems.append(error.message)
    return problems
