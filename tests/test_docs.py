"""The README stays a front door and the docs stay connected: short README, working links, no outside files.

Fast and database-free: it only reads Markdown and source files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
QUICKSTART = [
    "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/paperbot digest --dry-run",
    "bash tests/run.sh",
]
# Built in pieces so that this file does not contain, and so does not match, what it looks for.
FORBIDDEN = ("../" + "shared", "INTERFACE" + ".md")
SCANNED = ("README.md", "docs", "bot", "handlers", "storage", "tests")

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def without_code_blocks(text: str) -> str:
    """Markdown with fenced code blocks removed: links and headings inside them are not real."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: `slug("Which day's list") == "which-days-list"`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts as its text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, numbered the way GitHub numbers repeated headings."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for heading in HEADING.findall(without_code_blocks(path.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """The relative links of a Markdown file that point at no file, outside `root`, or at no heading."""
    problems = []
    text = without_code_blocks(path.read_text(encoding="utf-8"))
    for target in LINK.findall(text):
        if EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.is_relative_to(root):
            problems.append(f"{target}: outside the repository")
        elif not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and anchor not in (anchors(resolved) if resolved.suffix == ".md" else set()):
            problems.append(f"{target}: no heading #{anchor} in {resolved.relative_to(root)}")
    return problems


def section(text: str, title: str) -> str:
    """The body of a README `## title` section, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}[ \t]*\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_readme_is_a_front_door_of_at_most_300_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300, f"README.md has {len(lines)} lines; move deep dives into docs/"


def test_quickstart_holds_exactly_the_two_commands() -> None:
    body = section(README.read_text(encoding="utf-8"), "Quickstart")
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", body, re.MULTILINE | re.DOTALL)
    commands = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    assert commands == QUICKSTART


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_the_docs_exist_and_the_readme_links_each_of_them() -> None:
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in LINK.findall(README.read_text("utf-8"))}
    assert DOCS, "docs/*.md is missing"
    assert [p.name for p in DOCS if p.resolve() not in linked] == []


def test_a_broken_link_or_anchor_is_caught(tmp_path: Path) -> None:
    assert slug("Which day's list") == "which-days-list"
    assert slug("Per-channel settings: `/papers config`") == "per-channel-settings-papers-config"
    assert slug("Docker Compose (PostgreSQL + two replicas)") == "docker-compose-postgresql--two-replicas"
    (tmp_path / "README.md").write_text("# Title\n## Setup\n## Setup\n```\n## Not a heading\n```\n")
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "[ok](../README.md#setup-1) [ok](#here) [ok](https://example.com/x.md)\n"
        "[gone](gone.md) [bad](../README.md#not-a-heading) [out](../../elsewhere.md)\n## Here\n"
    )
    assert broken_links(page, root=tmp_path) == [
        "gone.md: no such file",
        "../README.md#not-a-heading: no heading #not-a-heading in README.md",
        "../../elsewhere.md: outside the repository",
    ]


def test_nothing_refers_to_files_outside_the_repository() -> None:
    offenders = []
    for name in SCANNED:
        top = ROOT / name
        for path in [top] if top.is_file() else sorted(top.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            text = path.read_text(encoding="utf-8", errors="ignore")
            offenders += [f"{path.relative_to(ROOT)}: {word}" for word in FORBIDDEN if word in text]
    assert offenders == []
