"""The pieces of a paper every view shows: what the builders read from a paper (`PaperLike`), its linked
title, authors, opening sentences, links line, Hugging Face stats line and picture."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from bot.blocks.common import Block, clip, compact, image_accessory, link, safe_url
from bot.links import abs_url, hf_url, pdf_url

AUTHOR_LIMIT = 80

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


class PaperLike(Protocol):
    """What the builders read from a paper: `storage.models.Paper`, or any object with these attributes."""

    @property
    def arxiv_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def authors(self) -> Sequence[str] | None: ...
    @property
    def abstract(self) -> str | None: ...
    @property
    def ai_summary(self) -> str | None: ...
    @property
    def hf_upvotes(self) -> int | None: ...
    @property
    def hf_comments(self) -> int | None: ...
    @property
    def github_repo(self) -> str | None: ...
    @property
    def github_stars(self) -> int | None: ...
    @property
    def project_page(self) -> str | None: ...
    @property
    def thumbnail(self) -> str | None: ...


def github_url(repo: str | None) -> str | None:
    """A GitHub link from a full URL or an `owner/name`: `github_url("a/b") == "https://github.com/a/b"`."""
    if not repo:
        return None
    repo = repo.strip()
    return repo if "://" in repo else f"https://github.com/{repo.strip('/')}"


def author_line(authors: Sequence[str] | None) -> str:
    """First three authors, then "et al.": `author_line(["A", "B", "C", "D"]) == "A, B, C et al."`."""
    names = [" ".join(a.split()) for a in authors or [] if a and a.strip()]
    shown = ", ".join(clip(n, AUTHOR_LIMIT) for n in names[:3])
    return f"{shown} et al." if len(names) > 3 else shown


def first_sentences(text: str | None, limit: int = 400) -> str:
    """The opening sentences of an abstract, as many as fit in about `limit` characters (at least one)."""
    if not text:
        return ""
    sentences = _SENTENCE_END.split(" ".join(text.split()))
    out = sentences[0]
    for s in sentences[1:]:
        if len(out) + 1 + len(s) > limit:
            break
        out = f"{out} {s}"
    return out


def title_link(paper: PaperLike) -> str:
    """The paper's title linked to its Hugging Face page (the arXiv id when it has no title)."""
    # A `*` inside the bold title would end the bold early; the lookalike U+2217 keeps "A*" readable.
    title = " ".join((paper.title or "").split()).replace("*", "∗") or paper.arxiv_id
    return link(hf_url(paper.arxiv_id), title)


class Pictured(Protocol):
    """What a paper's picture needs: its title (the alt text) and its thumbnail URL."""

    @property
    def arxiv_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def thumbnail(self) -> str | None: ...


def with_picture(block: Block, paper: Pictured) -> Block:
    """`block` (the section with the paper's title) carrying the paper's picture as its image accessory, when it
    has a usable one (bot.blocks.common.image_accessory: https only, length-checked; alt text = the title)."""
    title = " ".join((paper.title or "").split()) or paper.arxiv_id
    picture = image_accessory(paper.thumbnail, title)
    return {**block, "accessory": picture} if picture is not None else block


def links_line(paper: PaperLike) -> str:
    """arXiv, PDF, GitHub (with its stars) and project page links, as one context line."""
    parts = [
        link(abs_url(paper.arxiv_id), f"arXiv {paper.arxiv_id}", 80),
        link(pdf_url(paper.arxiv_id), "PDF"),
    ]
    repo = safe_url(github_url(paper.github_repo))
    if repo:
        stars = f" ★ {compact(paper.github_stars)}" if paper.github_stars is not None else ""
        parts.append(link(github_url(paper.github_repo), f"GitHub{stars}"))
    if safe_url(paper.project_page):
        parts.append(link(paper.project_page, "Project page"))
    return " · ".join(parts)


def stats_line(paper: PaperLike) -> str:
    """Hugging Face upvotes and comments, as one context line ("" when unknown)."""
    parts = []
    if paper.hf_upvotes is not None:
        parts.append(f"▲ {compact(paper.hf_upvotes)} upvote{'' if paper.hf_upvotes == 1 else 's'}")
    if paper.hf_comments is not None:
        parts.append(f"💬 {compact(paper.hf_comments)} comment{'' if paper.hf_comments == 1 else 's'}")
    return " · ".join(parts)
