"""The bundled sample: real papers only, in HF's shape, shipped inside the package."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.links import normalize_arxiv_id
from bot.sources.sample import SAMPLE_FILE, sample_items, sample_records

ROOT = Path(__file__).resolve().parents[3]
SEED = ROOT / "tests" / "data" / "seed-papers.json"  # the 31 real papers the sample is built from


@pytest.fixture(scope="module")
def seed() -> list[dict[str, Any]]:
    papers: list[dict[str, Any]] = json.loads(SEED.read_text(encoding="utf-8"))
    return papers


def test_sample_is_the_31_real_papers_with_nothing_invented(seed: list[dict[str, Any]]) -> None:
    items = sample_items()
    assert len(items) == len(seed) == 31
    for item, paper in zip(items, seed, strict=True):
        assert item["paper"]["id"] == paper["arxiv_id"]
        assert item["paper"]["title"] == item["title"] == paper["title"]
        assert item["paper"]["summary"] == paper["abstract"]
        assert [a["name"] for a in item["paper"]["authors"]] == paper["authors"]
        # Upvotes only where the page showed them; no HF-internal ids we could only have made up.
        assert item["paper"].get("upvotes") == paper["hf_upvotes"]
        assert "_id" not in json.dumps(item) and "discussionId" not in item["paper"]
        # The picture the page showed: Hugging Face's social thumbnail of the paper (the API's `thumbnail`).
        assert item["thumbnail"] == paper["thumbnail"]
        assert (
            paper["thumbnail"]
            == f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{paper['arxiv_id']}.png"
        )


def test_generator_reproduces_the_shipped_file(seed: list[dict[str, Any]], tmp_path: Path) -> None:
    from bench.make_sample import main

    out = tmp_path / "sample.json"
    main(["make_sample.py", str(SEED), str(out)])
    assert json.loads(out.read_text()) == sample_items()


def test_sample_records_are_on_the_asked_day() -> None:
    day = date(2025, 11, 24)
    records = sample_records(day)
    assert len(records) == 31
    assert all(r.daily_date == day and r.source == "sample" for r in records)
    assert all(normalize_arxiv_id(r.arxiv_id) == (r.arxiv_id, None) for r in records)
    assert len({r.arxiv_id for r in records}) == 31
    first = records[0]
    assert first.title == "Reducing the Transformer Architecture to a Minimum"
    assert first.authors[0] == "Bernhard Bermeitinger" and first.published == date(2024, 10, 17)
    assert first.primary_category == "cs.LG" and first.hf_upvotes is None
    assert sum(1 for r in records if not r.authors) >= 1  # authors the page did not list stay unknown
    with_repo = {r.arxiv_id: r.github_repo for r in records if r.github_repo}
    assert with_repo["2507.01131"] == "https://github.com/divelab/AIRS"


def test_each_call_returns_a_fresh_copy() -> None:
    sample_items()[0]["title"] = "changed"
    assert sample_items()[0]["title"] == "Reducing the Transformer Architecture to a Minimum"


def test_sample_is_declared_as_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["bot"]
    assert any(fnmatch.fnmatch(f"data/{SAMPLE_FILE}", pattern) for pattern in patterns)
    assert (ROOT / "bot" / "data" / SAMPLE_FILE).exists()
