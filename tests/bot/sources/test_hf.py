"""Hugging Face Daily Papers: parsing real item shapes, and the HTTP client against the loopback fake."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from bot.sources.hf import parse_daily_item
from tests.fakes.hf import FakeHF, daily_item

# A daily_papers item as HF serves it (trimmed values, every documented field present).
FULL_ITEM: dict[str, Any] = {
    "paper": {
        "id": "2410.13732",
        "authors": [
            {"_id": "671a0c1f0e9f4e6e5b1c0001", "name": "Bernhard Bermeitinger", "hidden": False,
             "user": {"_id": "60f0a0b0c0d0e0f0a0b0c0d0", "avatarUrl": "/avatars/x.svg", "fullname": "B. B.",
                      "user": "bbermeitinger", "isPro": False, "type": "user"}},
            {"_id": "671a0c1f0e9f4e6e5b1c0002", "name": "Tomas Hrycej", "hidden": True},
        ],
        "publishedAt": "2024-10-17T09:00:00.000Z",
        "submittedOnDailyAt": "2024-10-18T02:15:00.000Z",
        "title": "Reducing the Transformer Architecture\n  to a Minimum",
        "summary": "Transformers are a widespread\nand successful model architecture.",
        "upvotes": 12,
        "discussionId": "671a0c1f0e9f4e6e5b1c0003",
        "ai_summary": "Removing MLPs keeps accuracy.",
        "ai_keywords": ["transformer", "attention"],
        "githubRepo": "https://github.com/example/minimal-transformer",
        "githubStars": 42,
        "projectPage": "https://example.org/minimal",
        "organization": {"_id": "1" * 24, "name": "example", "fullname": "Example Lab", "avatar": None},
    },
    "publishedAt": "2024-10-18T02:15:00.000Z",
    "title": "Reducing the Transformer Architecture to a Minimum",
    "summary": "Transformers are a widespread and successful model architecture.",
    "thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2410.13732.png",
    "numComments": 3,
    "submittedBy": {"_id": "2" * 24, "name": "akhaliq", "fullname": "AK"},
    "isAuthorParticipating": False,
}


# ---- parse_daily_item --------------------------------------------------------------------------------------


def test_full_item_becomes_a_complete_record() -> None:
    record = parse_daily_item(FULL_ITEM)
    assert record.arxiv_id == "2410.13732"
    assert record.title == "Reducing the Transformer Architecture to a Minimum"
    assert record.abstract == "Transformers are a widespread and successful model architecture."
    assert record.authors == ["Bernhard Bermeitinger", "Tomas Hrycej"]  # the hidden author is kept
    assert record.published == date(2024, 10, 17)
    assert record.daily_date == date(2024, 10, 18)
    assert (record.hf_upvotes, record.hf_comments, record.github_stars) == (12, 3, 42)
    assert record.github_repo == "https://github.com/example/minimal-transformer"
    assert record.ai_keywords == ["transformer", "attention"]
    assert record.project_page == "https://example.org/minimal"
    assert record.thumbnail and record.thumbnail.endswith("2410.13732.png")
    assert record.source == "hf"


OPTIONAL_PAPER = ["authors", "publishedAt", "summary", "upvotes", "ai_summary", "ai_keywords", "githubRepo",
                  "githubStars", "projectPage", "submittedOnDailyAt", "discussionId", "organization"]
OPTIONAL_ITEM = ["publishedAt", "summary", "thumbnail", "numComments", "submittedBy", "isAuthorParticipating"]


@pytest.mark.parametrize("how", ["missing", "null"])
def test_every_optional_field_may_be_missing_or_null(how: str) -> None:
    item = copy.deepcopy(FULL_ITEM)
    for key in OPTIONAL_PAPER:
        if how == "missing":
            item["paper"].pop(key)
        else:
            item["paper"][key] = None
    for key in OPTIONAL_ITEM:
        if how == "missing":
            item.pop(key)
        else:
            item[key] = None
    record = parse_daily_item(item)
    assert record.arxiv_id == "2410.13732"
    assert record.title == "Reducing the Transformer Architecture to a Minimum"
    assert record.authors == [] and record.ai_keywords == []
    assert record.abstract is None and record.published is None and record.daily_date is None
    assert record.hf_upvotes is None and record.hf_comments is None and record.github_stars is None


def test_item_title_and_summary_stand_in_for_the_papers() -> None:
    item = copy.deepcopy(FULL_ITEM)
    del item["paper"]["title"], item["paper"]["summary"]
    record = parse_daily_item(item)
    assert record.title == "Reducing the Transformer Architecture to a Minimum"
    assert record.abstract == "Transformers are a widespread and successful model architecture."


def test_flat_paper_object_of_papers_endpoint() -> None:
    flat = {**copy.deepcopy(FULL_ITEM["paper"]), "numComments": 5, "linkedModels": [], "numTotalModels": 0}
    record = parse_daily_item(flat)
    assert record.arxiv_id == "2410.13732" and record.hf_comments == 5
    assert record.daily_date == date(2024, 10, 18)  # from submittedOnDailyAt
    assert record.authors == ["Bernhard Bermeitinger", "Tomas Hrycej"]


def test_versioned_and_old_style_ids_are_normalised() -> None:
    assert parse_daily_item({"paper": {"id": "2410.13732v3", "title": "T"}}).version == "v3"
    assert parse_daily_item({"id": "hep-th/9901001", "title": "T"}).arxiv_id == "hep-th/9901001"


def test_junk_values_in_optional_fields_are_ignored() -> None:
    item = {"paper": {"id": "2410.13732", "title": "T", "upvotes": "many", "githubStars": True,
                      "authors": [None, {"name": None}, {"name": "Ann"}, "Bob"], "publishedAt": "yesterday",
                      "ai_keywords": "not a list"}, "numComments": 1.5}
    record = parse_daily_item(item)
    assert record.authors == ["Ann"]
    assert record.hf_upvotes is None and record.github_stars is None and record.hf_comments is None
    assert record.published is None and record.ai_keywords == []


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"paper": {"title": "No id"}}, "no paper.id"),
        ({"paper": {"id": None, "title": "No id"}}, "no paper.id"),
        ({"paper": {"id": "not-an-id", "title": "T"}}, "not an arXiv id"),
        ({"paper": {"id": "2410.13732"}}, "2410.13732 has no title"),
        ({"paper": {"id": "2410.13732", "title": "  "}, "title": None}, "2410.13732 has no title"),
        (["a", "list"], "must be a JSON object"),
    ],
)
def test_required_fields_missing_is_a_clear_error(item: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_daily_item(item)


# ---- the fake itself serves HF's paging rules --------------------------------------------------------------


@pytest.fixture
def fake_hf() -> Iterator[FakeHF]:
    fake = FakeHF().start()
    yield fake
    fake.stop()


def test_fake_pages_like_hf(fake_hf: FakeHF) -> None:
    import httpx

    day = date(2025, 11, 24)
    fake_hf.set_daily(day, [daily_item(f"2511.{n:05d}", f"Paper {n}", day) for n in range(5)])
    pages = [httpx.get(fake_hf.url + "daily_papers", params={"date": "2025-11-24", "p": p, "limit": 2}).json()
             for p in range(4)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert httpx.get(fake_hf.url + "daily_papers", params={"date": "2025-13-01"}).status_code == 400
    assert httpx.get(fake_hf.url + "papers/2410.00001").status_code == 404
