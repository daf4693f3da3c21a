"""Build bot/data/sample_daily_papers.json, the bundled sample, from tests/data/seed-papers.json.

Each seed paper becomes one Hugging Face `daily_papers` item holding only what the seed knows (real ids,
titles, abstracts, authors, arXiv dates; upvotes and repositories only where the page showed them). Fields the
page did not show stay absent: no invented ids, upvotes or authors. Each item's `thumbnail` is the picture the page
showed for it: Hugging Face's social thumbnail of the paper, which its API gives every Daily Papers item at
`https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/<arXiv id>.png`. Two facts HF's shape has no field
for, the author count shown on the page and the arXiv primary category, go under `_paperbot`.

Usage: python bench/make_sample.py [SEED_JSON] [OUT_JSON]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed-papers.json"
OUT = ROOT / "bot" / "data" / "sample_daily_papers.json"


def to_item(seed: dict[str, Any]) -> dict[str, Any]:
    """One seed paper as a daily_papers item; only known facts, so absent means 'the page did not say'."""
    paper: dict[str, Any] = {
        "id": seed["arxiv_id"],
        "title": seed["title"],
        "summary": seed["abstract"],
        "authors": [{"name": name} for name in seed["authors"]],
        "publishedAt": seed["published"],  # a date only: the page showed no time of day
    }
    if seed.get("hf_upvotes") is not None:
        paper["upvotes"] = seed["hf_upvotes"]
    if seed.get("github_repo"):
        paper["githubRepo"] = seed["github_repo"]
    extra = {"authors_count": seed["authors_count"], "primary_category": seed.get("primary_category")}
    item: dict[str, Any] = {"paper": paper, "title": seed["title"], "summary": seed["abstract"]}
    if seed.get("thumbnail"):
        item["thumbnail"] = seed["thumbnail"]
    item["_paperbot"] = {k: v for k, v in extra.items() if v is not None}
    return item


def main(argv: list[str]) -> None:
    """Write the sample built from the seed file (argv[1], else the seed in tests/data) to argv[2] or the package."""
    seed_path = Path(argv[1]) if len(argv) > 1 else SEED
    out_path = Path(argv[2]) if len(argv) > 2 else OUT
    items = [to_item(seed) for seed in json.loads(seed_path.read_text(encoding="utf-8"))]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(items, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(items)} papers -> {out_path}")


if __name__ == "__main__":
    main(sys.argv)
