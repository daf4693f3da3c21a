"""The bundled sample: 31 real papers in the Hugging Face `daily_papers` shape, shipped inside the package.

Built by bench/make_sample.py from tests/data/seed-papers.json (real ids, titles, abstracts, authors; upvotes
only where the page showed them). Used by `--source sample` and by offline dry runs, which say so; never
silently for a real post (that is the digest's rule to keep).
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from importlib.resources import files
from typing import Any

from bot.sources.hf import parse_daily_item
from storage.records import PaperRecord
from storage.states import PaperSource

SAMPLE_FILE = "sample_daily_papers.json"


@cache
def _sample_text() -> str:
    return files("bot").joinpath("data", SAMPLE_FILE).read_text(encoding="utf-8")


def sample_items() -> list[dict[str, Any]]:
    """The sample's `daily_papers` items, a fresh copy each call (callers may change them)."""
    items: list[dict[str, Any]] = json.loads(_sample_text())
    return items


def sample_records(day: date) -> list[PaperRecord]:
    """The sample as PaperRecords on `day`'s list, marked `source="sample"`, in the page's order."""
    records = []
    for item in sample_items():
        record = parse_daily_item(item)
        # Facts HF's shape has no field for, kept by make_sample.py under `_paperbot`.
        record.primary_category = item.get("_paperbot", {}).get("primary_category")
        record.categories = [record.primary_category] if record.primary_category else []
        record.daily_date = day
        record.source = PaperSource.SAMPLE
        records.append(record)
    return records
