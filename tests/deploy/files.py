"""Readers of deploy/ shared by its tests: YAML, the Kubernetes objects, the compose file, the Dockerfile.

They read the files as the tools do (YAML merge keys resolved, Dockerfile continuation lines joined), so the
tests compare what an operator would actually run with what the code serves.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.cli import serve
from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMAS = Path(__file__).resolve().parent / "schemas"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def k8s_objects() -> list[tuple[Path, dict[str, Any]]]:
    """Every object of every file under deploy/k8s/, with its file."""
    return [
        (path, doc)
        for path in sorted((DEPLOY / "k8s").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc
    ]


def k8s(kind: str) -> dict[str, Any]:
    """The one Kubernetes object of `kind` under deploy/k8s/."""
    found = [doc for _, doc in k8s_objects() if doc["kind"] == kind]
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


def serve_default_port() -> int:
    """The port `paperbot serve` listens on when none is given: every probe must point at it."""
    port = next(p.default for p in serve.params if p.name == "port")
    assert isinstance(port, int)
    return port


def known_variables() -> set[str]:
    """Every environment variable Settings reads."""
    return {field.alias for field in Settings.model_fields.values() if field.alias}
