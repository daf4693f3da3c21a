"""deploy/k8s/: every object valid under the Kubernetes API's schemas (offline, strict, on the oldest and newest
release kubernetes-validate ships), and the objects consistent with each other and with the app: selectors match
the pods' labels, every port is the container's (the one `paperbot serve` listens on), probes and the Ingress
point at paths the app serves.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from sqlalchemy import Engine

from bot.server import SLACK_PATH, make_wsgi
from tests.deploy.files import k8s, k8s_objects, known_variables, serve_default_port
from tests.deploy.slack_surface import built_app
from tests.deploy.validation import k8s_schema_problems

HEALTH_PATH = "/healthz"
Objects = dict[str, dict[str, Any]]


def objects() -> Objects:
    """The bot's objects by kind (one of each)."""
    return {kind: copy.deepcopy(k8s(kind)) for kind in ("Deployment", "Service", "PodDisruptionBudget", "Ingress")}


def pod_labels(objs: Objects) -> dict[str, str]:
    labels: dict[str, str] = objs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    return labels


def container(objs: Objects) -> dict[str, Any]:
    [bot] = objs["Deployment"]["spec"]["template"]["spec"]["containers"]
    return dict(bot)


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= labels.items()


def port_problems(objs: Objects) -> list[str]:
    """The container listens where `paperbot serve` does; the Service and the Ingress reach it."""
    bot = container(objs)
    port = serve_default_port()
    names = {p["name"]: p["containerPort"] for p in bot["ports"]}
    problems = [f"containerPort {p} is not serve's port {port}" for p in names.values() if p != port]
    if bot["args"][bot["args"].index("--port") + 1] != str(port):
        problems.append(f"the container's args {bot['args']} do not serve on {port}")
    service = objs["Service"]
    targets = {p["name"]: names.get(p["targetPort"], p["targetPort"]) for p in service["spec"]["ports"]}
    problems += [f"Service port {n} targets {t}, not {port}" for n, t in targets.items() if t != port]
    for path in ingress_paths(objs):
        backend = path["backend"]["service"]
        if backend["name"] != service["metadata"]["name"]:
            problems.append(f"Ingress {path['path']} goes to Service {backend['name']}, which does not exist")
        wanted = backend["port"].get("name", backend["port"].get("number"))
        if wanted not in targets and wanted not in [p["port"] for p in service["spec"]["ports"]]:
            problems.append(f"Ingress {path['path']} goes to port {wanted}, which the Service does not have")
    return problems


def ingress_paths(objs: Objects) -> list[dict[str, Any]]:
    return [path for rule in objs["Ingress"]["spec"]["rules"] for path in rule["http"]["paths"]]


def served(path: str, prefix: str, path_type: str) -> bool:
    if path_type == "Exact":
        return path == prefix
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def path_problems(objs: Objects) -> list[str]:
    """Probes ask for /healthz on the container's port; the Ingress routes Slack's path and nothing else."""
    bot = container(objs)
    ports = {p["containerPort"] for p in bot["ports"]} | {p["name"] for p in bot["ports"]}
    problems = []
    for name in ("readinessProbe", "livenessProbe"):
        probe = bot.get(name, {}).get("httpGet")
        if probe is None:
            problems.append(f"the container has no HTTP {name}")
        elif probe["path"] != HEALTH_PATH or probe["port"] not in ports:
            problems.append(f"{name} asks for {probe['path']} on port {probe['port']}: the app serves {HEALTH_PATH}")
    paths = ingress_paths(objs)
    if not any(served(SLACK_PATH, p["path"], p["pathType"]) for p in paths):
        problems.append(f"the Ingress does not route {SLACK_PATH}, where Slack sends everything")
    problems += [
        f"the Ingress routes {p['path']}, where the app serves nothing Slack needs"
        for p in paths
        if not served(SLACK_PATH, p["path"], p["pathType"])
    ]
    return problems


def selector_problems(objs: Objects) -> list[str]:
    labels = pod_labels(objs)
    problems = []
    for kind, selector in (
        ("Deployment", objs["Deployment"]["spec"]["selector"]["matchLabels"]),
        ("Service", objs["Service"]["spec"]["selector"]),
        ("PodDisruptionBudget", objs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]),
    ):
        if not selects(selector, labels):
            problems.append(f"the {kind}'s selector {selector} does not match the pods' labels {labels}")
    budget = objs["PodDisruptionBudget"]["spec"]
    if "minAvailable" in budget and budget["minAvailable"] >= objs["Deployment"]["spec"]["replicas"]:
        problems.append("minAvailable is every replica: no node could ever be drained")
    return problems


def consistency_problems(objs: Objects) -> list[str]:
    return [*selector_problems(objs), *port_problems(objs), *path_problems(objs)]


# ---- the Kubernetes API's schemas --------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "doc"), k8s_objects(), ids=[f"{p.name}:{d['kind']}" for p, d in k8s_objects()])
def test_every_object_is_valid_under_the_kubernetes_schemas(path: Path, doc: dict[str, Any]) -> None:
    assert k8s_schema_problems(doc) == [], path.name


def typo_in_container(objs: Objects) -> dict[str, Any]:
    bot = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    bot["ports"][0]["contanerPort"] = bot["ports"][0].pop("containerPort")
    return objs["Deployment"]


def replicas_as_text(objs: Objects) -> dict[str, Any]:
    objs["Deployment"]["spec"]["replicas"] = "two"
    return objs["Deployment"]


def retired_budget_api(objs: Objects) -> dict[str, Any]:
    objs["PodDisruptionBudget"]["apiVersion"] = "policy/v1beta1"
    return objs["PodDisruptionBudget"]


def old_ingress_backend(objs: Objects) -> dict[str, Any]:
    path = objs["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]
    path["backend"] = {"serviceName": "paperbot", "servicePort": 80}  # extensions/v1beta1's form
    return objs["Ingress"]


def probe_without_path_field(objs: Objects) -> dict[str, Any]:
    probe = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["httpGet"]["url"] = probe["httpGet"].pop("path")
    return objs["Deployment"]


SCHEMA_BREAKS = [typo_in_container, replicas_as_text, retired_budget_api, old_ingress_backend]


@pytest.mark.parametrize("mutate", [*SCHEMA_BREAKS, probe_without_path_field])
def test_an_invalid_object_is_caught(mutate: Callable[[Objects], dict[str, Any]]) -> None:
    assert k8s_schema_problems(mutate(objects())), f"{mutate.__name__} went unnoticed"


# ---- consistent with each other and with the app -----------------------------------------------------------


def test_the_objects_agree_with_each_other_and_the_app() -> None:
    assert consistency_problems(objects()) == []


def relabelled_pods(objs: Objects) -> None:
    objs["Deployment"]["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] = "web"


def budget_selects_the_job(objs: Objects) -> None:
    objs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "migrate"


def budget_blocks_every_drain(objs: Objects) -> None:
    objs["PodDisruptionBudget"]["spec"]["minAvailable"] = objs["Deployment"]["spec"]["replicas"]


def other_container_port(objs: Objects) -> None:
    objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = 8080


def service_targets_another_port(objs: Objects) -> None:
    objs["Service"]["spec"]["ports"][0]["targetPort"] = 8000


def ingress_to_a_missing_port(objs: Objects) -> None:
    ingress_paths(objs)[0]["backend"]["service"]["port"] = {"name": "web"}


def ingress_to_another_service(objs: Objects) -> None:
    ingress_paths(objs)[0]["backend"]["service"]["name"] = "paperbot-web"


def ingress_on_a_path_never_served(objs: Objects) -> None:
    ingress_paths(objs)[0]["path"] = "/events"


def probe_on_a_path_never_served(objs: Objects) -> None:
    objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["path"] = "/health"


def probe_on_another_port(objs: Objects) -> None:
    objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = 8080


DRIFTS = [relabelled_pods, budget_selects_the_job, budget_blocks_every_drain, other_container_port]
DRIFTS += [service_targets_another_port, ingress_to_a_missing_port, ingress_to_another_service]
DRIFTS += [ingress_on_a_path_never_served, probe_on_a_path_never_served, probe_on_another_port]


@pytest.mark.parametrize("mutate", DRIFTS)
def test_objects_that_drift_apart_are_caught(mutate: Callable[[Objects], None]) -> None:
    objs = objects()
    mutate(objs)
    assert consistency_problems(objs), f"{mutate.__name__} went unnoticed"


def test_probes_and_the_ingress_reach_what_the_app_serves(engine: Engine) -> None:
    """Through the real WSGI app: the probe path answers 200 with the database up, and a request on the
    Ingress's path reaches Bolt (which refuses it unsigned: 401, not the 404 of a path nobody serves)."""
    objs = objects()
    probes = {container(objs)[p]["httpGet"]["path"] for p in ("readinessProbe", "livenessProbe")}
    with built_app() as app:
        wsgi = make_wsgi(app, engine)
        for path in probes:
            assert call(wsgi, "GET", path)[0] == "200 OK"
        for path in ingress_paths(objs):
            target = SLACK_PATH if served(SLACK_PATH, path["path"], path["pathType"]) else path["path"]
            assert call(wsgi, "POST", target)[0] == "401 Unauthorized"
        assert call(wsgi, "GET", "/nothing-here")[0].startswith("404")


def call(wsgi: Any, method: str, path: str) -> tuple[str, Any]:
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": method}
    setup_testing_defaults(environ)
    statuses: list[str] = []
    body = b"".join(wsgi(environ, lambda status, headers: statuses.append(status)))
    return statuses[0], json.loads(body) if body.startswith(b"{") else body


# ---- what the objects say ----------------------------------------------------------------------------------


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
