"""Render the README picture: a digest built from the bundled sample, as `paperbot digest --dry-run` shows it.

    .venv/bin/python bench/render_readme_picture.py            # writes docs/digest-preview.svg

Uses the real builders (bot.blocks) and preview (bot.preview), so the picture is what would be posted.
"""

from __future__ import annotations

import argparse
import io
import json
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console

from bot.blocks import digest_header, paper_message, validate
from bot.preview import render
from bot.sources.hf import parse_items
from storage.records import PaperRecord

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "bot" / "data" / "sample_daily_papers.json"
# Without the bundled sample, the seed list it is built from (same papers, fewer HF fields).
FALLBACK = ROOT / "tests" / "data" / "seed-papers.json"
OUT = ROOT / "docs" / "digest-preview.svg"


def _seed_record(obj: dict[str, Any]) -> PaperRecord:
    """A PaperRecord from the flat seed format (keys named like PaperRecord's fields)."""
    known = {f.name for f in fields(PaperRecord)}
    values = {k: v for k, v in obj.items() if k in known}
    for key in ("published", "updated", "daily_date"):
        if isinstance(values.get(key), str):
            values[key] = date.fromisoformat(values[key])
    return PaperRecord(**values)


def load_papers(path: Path) -> list[PaperRecord]:
    """Papers from an HF `daily_papers` array (the bundled sample) or the flat seed list."""
    items = json.loads(path.read_text(encoding="utf-8"))
    if items and isinstance(items[0], dict) and "paper" in items[0]:
        return parse_items(items)
    return [_seed_record(obj) for obj in items]


def build_digest(papers: list[PaperRecord], *, count: int) -> list[dict[str, Any]]:
    """Header plus the top `count` papers by HF upvotes, exactly as the digest would post them."""
    ranked = sorted(papers, key=lambda p: -(p.hf_upvotes or 0))[:count]
    days = [p.daily_date for p in papers if p.daily_date]
    day = max(days) if days else date(2025, 11, 24)
    payloads = [digest_header(day=day, count=len(ranked), total=len(papers))]
    payloads += [paper_message(p, rank=i) for i, p in enumerate(ranked, 1)]
    for payload in payloads:
        validate(payload)
    return payloads


def main() -> None:
    """Write the SVG and say where it went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=SAMPLE if SAMPLE.exists() else FALLBACK)
    parser.add_argument("--count", type=int, default=3, help="papers in the picture (default 3)")
    parser.add_argument("-o", "--output", type=Path, default=OUT)
    args = parser.parse_args()
    payloads = build_digest(load_papers(args.sample), count=args.count)
    console = Console(record=True, width=100, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    console.print("[bold]$ paperbot digest --dry-run[/]")
    render(payloads, console=console, note="Dry run: nothing is posted. This is what the channel would get.")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    console.save_svg(str(args.output), title="paperbot digest --dry-run")
    print(f"wrote {args.output} from {args.sample} ({len(payloads)} messages)")


if __name__ == "__main__":
    main()
