"""What a newcomer checks before building on paperbot: the licence pyproject names is there, and the image is built
from the committed lock (dependencies first, at pinned versions and hashes), so two builds install the same thing."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.files import dockerfile

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
LOCK_COMMAND = "uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes -o requirements.lock"


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def locked() -> dict[str, tuple[str, int]]:
    """Name → (pinned version, number of hashes) of every package in requirements.lock."""
    text = LOCK.read_text(encoding="utf-8")
    found: dict[str, tuple[str, int]] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)", entry)
        if match:
            found[canonicalize_name(match[1])] = (match[2], entry.count("--hash=sha256:"))
    return found


def test_the_licence_file_is_the_mit_licence_pyproject_names() -> None:
    assert pyproject()["project"]["license"] == "MIT"  # type: ignore[index]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "MIT License"
    assert "Copyright (c) 2026 the paperbot authors" in text
    assert "Permission is hereby granted, free of charge" in text and 'THE SOFTWARE IS PROVIDED "AS IS"' in text


def test_the_lock_pins_every_runtime_dependency_within_pyprojects_range_with_hashes() -> None:
    pins = locked()
    for line in pyproject()["project"]["dependencies"]:  # type: ignore[index]
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"requirements.lock has no {name}: regenerate it ({LOCK_COMMAND})"
        version, _ = pins[name]
        assert requirement.specifier.contains(version), f"{name}=={version} is outside pyproject's {line!r}"
    assert "psycopg-binary" in pins  # psycopg[binary]'s extra is locked too
    assert all(hashes for _, hashes in pins.values()), "every pin carries its hashes (pip --require-hashes)"
    assert LOCK_COMMAND in LOCK.read_text(encoding="utf-8")  # how to regenerate it, in the file itself


def test_the_image_installs_the_lock_before_it_copies_the_code() -> None:
    steps = [(instr, args) for instr, args in dockerfile() if instr in ("COPY", "RUN")]
    lock_install = next(
        i for i, (instr, args) in enumerate(steps) if instr == "RUN" and "--require-hashes -r requirements.lock" in args
    )
    assert ("COPY", "requirements.lock ./") in steps[:lock_install]
    code = [i for i, (instr, args) in enumerate(steps) if instr == "COPY" and "requirements.lock" not in args]
    assert code and min(code) > lock_install, "a code edit would reinstall every dependency"
    # paperbot itself resolves nothing: every dependency came from the lock.
    assert any(instr == "RUN" and "pip install --no-deps ." in args for instr, args in steps[max(code) :])
    assert f"#   pip install uv && {LOCK_COMMAND}" in (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")


def test_the_build_context_keeps_the_lock_and_leaves_out_venvs_databases_and_git() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", "*.db", ".git", ".env"} <= ignored
    assert not {"requirements.lock", "LICENSE", "*.lock"} & ignored


def runtime_closure() -> dict[str, set[str]]:
    """Every package a Linux install of pyproject's dependencies pulls in (name → who requires it), walked through
    the installed packages' metadata. A package installed at another version than the lock's is not walked
    further (its requirements may differ from the locked one's)."""
    pins = locked()
    wanted: list[tuple[Requirement, str]] = [(Requirement(line), "pyproject") for line in pyproject_dependencies()]
    found: dict[str, set[str]] = {}
    while wanted:
        requirement, by = wanted.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            found[name].add(by)
            continue
        found[name] = {by}
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if name in pins and pins[name][0] != dist.version:
            continue
        extras = requirement.extras | {""}
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate(linux(extra)) for extra in extras):
                wanted.append((sub, name))
    return found


def linux(extra: str) -> dict[str, str]:
    environment = {key: str(value) for key, value in default_environment().items()}
    return {**environment, "sys_platform": "linux", "platform_system": "Linux", "extra": extra}


def pyproject_dependencies() -> list[str]:
    dependencies: list[str] = pyproject()["project"]["dependencies"]  # type: ignore[index]
    return dependencies


def test_the_lock_holds_everything_an_install_pulls_in() -> None:
    """`pip install --require-hashes` refuses any package the lock leaves out, so the image build would fail on
    a dependency of a dependency: every package of the installed closure is pinned."""
    closure = runtime_closure()
    assert len(closure) > len(pyproject_dependencies())  # the walk went past pyproject's own list
    missing = {name: sorted(by) for name, by in closure.items() if name not in locked()}
    assert not missing, f"requirements.lock lacks {missing}: regenerate it ({LOCK_COMMAND})"
