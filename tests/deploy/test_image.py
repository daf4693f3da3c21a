"""deploy/Dockerfile: the image runs `paperbot serve` on its default port as a non-root user, probes a path the
server answers, and installs every package pyproject ships (the lock's part is in test_packaging.py).
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from typing import Any
from wsgiref.util import setup_testing_defaults

from sqlalchemy import Engine

from bot.server import make_wsgi
from tests.deploy.files import ROOT, dockerfile, health_urls, instruction, k8s, serve_default_port


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
