"""Block Kit builders: pure functions from data to message payloads, unit-tested without Slack.

Every user- or paper-supplied string goes through `escape` (mrkdwn needs &, <, > escaped) and `clip`
(section text is capped at 3,000 characters by Slack).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol
from urllib.parse import quote

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block as SlackBlock

Block = dict[str, Any]

SECTION_LIMIT = 3000
FALLBACK_LIMIT = 4000

USAGE = [
    ("help", "this message"),
    ("digest", "this channel's digest settings and its last run"),
    ("digest now", "post this channel's digest now"),
    ("config", "this channel's digest settings"),
    (
        "config <setting> <value>",
        "change one: digest on|off, time HH:MM, timezone Area/City, size N, "
        "min-upvotes N|off, weekends on|off, empty-notice on|off, keywords|authors|topics a, b|off",
    ),
    (
        "export [json|csv|bibtex] [since:YYYY-MM-DD] [min-votes:N] [all]",
        "a file of the papers posted here, with the team's votes, reactions and replies (`all`: every channel)",
    ),
]

EXPORT_USAGE = [
    ("export", "this channel's papers as JSON"),
    ("export csv", "as CSV; `bibtex` for a .bib file"),
    ("export since:2025-11-01", "only papers posted on or after that day"),
    ("export min-votes:2", "only papers at least two people voted for"),
    ("export all", "every channel of the workspace, not only this one"),
]


def escape(text: str) -> str:
    """Escape mrkdwn control characters: `escape("a<b>&c") == "a&lt;b&gt;&amp;c"`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters at a word boundary, with an ellipsis:
    `clip("alpha beta gamma", 12) == "alpha beta…"`."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def section(text: str) -> Block:
    """A mrkdwn section block (text already escaped by the caller)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}


def context(*elements: str) -> Block:
    """A context block of up to ten mrkdwn elements."""
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": e[:SECTION_LIMIT]} for e in elements[:10]],
    }


def help_message(command: str = "/papers") -> dict[str, Any]:
    """The reply to `/papers help`: every subcommand with one line of explanation."""
    lines = "\n".join(f"• `{command} {usage}` — {what}" for usage, what in USAGE)
    intro = "*paperbot* posts the Hugging Face daily papers here, one message per paper."
    vote = "Each paper is its own message: vote on it with :+1: :fire: :heart: and discuss it in its thread."
    return {
        "text": f"paperbot: {command} help",
        "blocks": [
            section(f"{intro}\n{lines}"),
            context(vote),
        ],
    }


def config_error(problem: str, usage: str) -> dict[str, Any]:
    """`/papers config`'s private answer to a setting it could not take: the problem, then the settings."""
    return {"text": f"{escape(problem)} {usage}", "blocks": [section(f":warning: {escape(problem)}"), context(usage)]}


def usage_error(problem: str, command: str = "/papers") -> dict[str, Any]:
    """A short ephemeral reply naming what was wrong, followed by the usage."""
    usage = help_message(command)
    return {
        "text": f"{escape(problem)} Try `{command} help`.",
        "blocks": [section(f":warning: {escape(problem)}"), *usage["blocks"]],
    }


def export_usage(problem: str, command: str = "/papers") -> dict[str, Any]:
    """`/papers export`'s private answer to words it cannot take: the problem, then how to write an export."""
    lines = "\n".join(f"• `{command} {usage}` — {what}" for usage, what in EXPORT_USAGE)
    intro = f"`{command} export [json|csv|bibtex] [since:YYYY-MM-DD] [min-votes:N] [all]`, in any order:"
    return {
        "text": f"{escape(problem)} Usage: {intro}",
        "blocks": [section(f":warning: {escape(problem)}"), section(f"{intro}\n{lines}")],
    }


def export_scope(*, channel_id: str | None, since: date | None, min_votes: int) -> str:
    """Which papers an export holds, in words: `export_scope(channel_id="C1", since=None, min_votes=2) ==
    "posted in <#C1> with at least 2 votes"`."""
    where = f"posted in <#{channel_id}>" if channel_id else "posted in this workspace"
    when = f" since {since.isoformat()}" if since else ""
    votes = f" with at least {min_votes} vote{'' if min_votes == 1 else 's'}" if min_votes else ""
    return where + when + votes


def export_comment(*, user_id: str, scope: str) -> str:
    """The message that comes with the uploaded export file."""
    return f"<@{user_id}> exported the papers {scope}."


def export_summary(
    *, count: int, fmt: str, filename: str, where: str, scope: str, error: str | None = None
) -> dict[str, Any]:
    """`/papers export`'s one-line private answer: what was exported and where the file went."""
    papers = f"{count} paper{'' if count == 1 else 's'} {scope} as {fmt.upper() if fmt != 'bibtex' else 'BibTeX'}"
    name, problem = f"`{escape(filename)}`", escape(error or "")
    text = {
        "empty": f"Nothing to export: no paper was {scope}.",
        "channel": f"Exported {papers}: {name} is in this channel.",
        "dm": f"Exported {papers}. I couldn't post the file here ({problem}), so I sent {name} to you in a DM.",
        "nowhere": (
            f"Exported {papers}, but Slack refused the file ({problem}). Invite me here with "
            "`/invite @paperbot`, or run `paperbot export` where the bot runs."
        ),
    }[where]
    return {"text": text, "blocks": [section(text)]}


# --- The daily digest: a header message, then one message per paper (issue #4).

HF_PAPERS = "https://huggingface.co/papers"
ARXIV = "https://arxiv.org"
MAX_BLOCKS = 50
HEADER_LIMIT = 150
TITLE_LIMIT = 300
AUTHOR_LIMIT = 80
SUMMARY_LIMIT = 700
URL_LIMIT = 1000
SAVE_ACTION = "paper_save"
DETAILS_ACTION = "paper_details"

# Characters that would end a `<url|label>` link early or split it; percent-encoded in URLs.
_URL_UNSAFE = {"<": "%3C", ">": "%3E", "|": "%7C", " ": "%20", '"': "%22"}
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


def fit(text: str, limit: int) -> str:
    """Clip then escape so the *escaped* text stays within `limit`: `fit("a & b", 20) == "a &amp; b"`."""
    cut = limit
    while True:
        out = escape(clip(text, max(cut, 1)))
        if len(out) <= limit or cut <= 1:
            return out
        # Each escape adds characters; shrink the raw budget by the overshoot and try again.
        cut -= len(out) - limit


def safe_url(url: str | None) -> str | None:
    """An http(s) URL made safe inside `<url|label>`, or None: `safe_url("javascript:x") is None`."""
    if not url:
        return None
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        return None
    url = "".join(_URL_UNSAFE.get(ch, ch) for ch in url if ch.isprintable()).replace("&", "&amp;")
    # Measured after encoding, so two long links still fit one context element (3,000 characters).
    return url if len(url) <= URL_LIMIT else None


def link(url: str | None, label: str, limit: int = TITLE_LIMIT) -> str:
    """A mrkdwn link whose label can't break out (`|` neutralised, `<&>` escaped); plain label if no URL."""
    text = fit(label, limit).replace("|", "¦")
    href = safe_url(url)
    return f"<{href}|{text}>" if href else text


def github_url(repo: str | None) -> str | None:
    """A GitHub link from a full URL or an `owner/name`: `github_url("a/b") == "https://github.com/a/b"`."""
    if not repo:
        return None
    repo = repo.strip()
    return repo if "://" in repo else f"https://github.com/{repo.strip('/')}"


def paper_url(arxiv_id: str, kind: str = "hf") -> str:
    """The paper's page: `kind` is "hf" (Hugging Face), "abs" or "pdf" (arXiv)."""
    quoted = quote(arxiv_id.strip(), safe="/.")
    return f"{HF_PAPERS}/{quoted}" if kind == "hf" else f"{ARXIV}/{kind}/{quoted}"


def compact(n: int) -> str:
    """A count for humans: `compact(950) == "950"`, `compact(12345) == "12.3k"`."""
    if n < 1000:
        return str(n)
    return f"{n / 1000:.1f}".rstrip("0").rstrip(".") + "k"


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


def day_label(day: date) -> str:
    """A date as people read it: `day_label(date(2025, 11, 24)) == "Monday, 24 November 2025"`."""
    return f"{day:%A}, {day.day} {day:%B %Y}"


def digest_header(*, day: date, count: int, total: int | None = None, sample: bool = False) -> dict[str, Any]:
    """The message that opens a digest: the date, how many papers, and a link to the day on Hugging Face.
    With `sample`, the papers are paperbot's bundled sample, and the header says so instead of claiming the day."""
    papers = "1 paper" if count == 1 else f"{count} papers"
    of_total = f" (top {count} of {total})" if total is not None and total > count else ""
    if sample:
        body = (
            f"*{papers}*{of_total} from paperbot's bundled sample of real papers, "
            f"not the Hugging Face list of {day_label(day)}"
        )
        title, text = "Daily Papers · sample", f"Daily papers (bundled sample, not {day}'s list): {papers}{of_total}"
    else:
        url = f"{HF_PAPERS}/date/{day.isoformat()}"
        body = f"*{papers}*{of_total} from Hugging Face Daily Papers · {link(url, 'see the whole day')}"
        title, text = f"Daily Papers · {day_label(day)}", f"Daily papers for {day_label(day)}: {papers}{of_total}"
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title}},
            section(body),
            context("Vote with a reaction on a paper's message; discuss it in its thread."),
        ],
    }


def empty_digest(*, day: date) -> dict[str, Any]:
    """The short notice posted when a channel's digest has no papers for the day."""
    url = f"{HF_PAPERS}/date/{day.isoformat()}"
    text = f"No new papers today: nothing from Hugging Face Daily Papers of {day_label(day)} to post here."
    return {"text": text, "blocks": [section(f"{text} {link(url, 'See the day on Hugging Face')}")]}


def _links_line(paper: PaperLike) -> str:
    parts = [
        link(paper_url(paper.arxiv_id, "abs"), f"arXiv {paper.arxiv_id}", 80),
        link(paper_url(paper.arxiv_id, "pdf"), "PDF"),
    ]
    repo = safe_url(github_url(paper.github_repo))
    if repo:
        stars = f" ★ {compact(paper.github_stars)}" if paper.github_stars is not None else ""
        parts.append(link(github_url(paper.github_repo), f"GitHub{stars}"))
    if safe_url(paper.project_page):
        parts.append(link(paper.project_page, "Project page"))
    return " · ".join(parts)


def _stats_line(paper: PaperLike) -> str:
    parts = []
    if paper.hf_upvotes is not None:
        parts.append(f"▲ {compact(paper.hf_upvotes)} upvote{'' if paper.hf_upvotes == 1 else 's'}")
    if paper.hf_comments is not None:
        parts.append(f"💬 {compact(paper.hf_comments)} comment{'' if paper.hf_comments == 1 else 's'}")
    return " · ".join(parts)


def _buttons(arxiv_id: str) -> Block:
    def button(label: str, action_id: str) -> Block:
        text = {"type": "plain_text", "text": label}
        return {"type": "button", "text": text, "action_id": action_id, "value": arxiv_id[:2000]}

    return {
        "type": "actions",
        "elements": [button("Save", SAVE_ACTION), button("Show details", DETAILS_ACTION)],
    }


def paper_message(paper: PaperLike, *, rank: int | None = None) -> dict[str, Any]:
    """One digest message for one paper: linked title, authors, summary, links, HF stats and buttons."""
    prefix = f"{rank}. " if rank is not None else ""
    title = " ".join((paper.title or "").split()) or paper.arxiv_id
    authors = author_line(paper.authors)
    head = f"*{prefix}{_title_link(paper)}*"
    if authors:
        head += f"\n{fit(authors, 4 * AUTHOR_LIMIT)}"
    blocks: list[Block] = [section(head)]
    summary = (paper.ai_summary or "").strip() or first_sentences(paper.abstract)
    if summary:
        blocks.append(section(fit(summary, SUMMARY_LIMIT)))
    blocks.append(context(*[e for e in (_links_line(paper), _stats_line(paper)) if e]))
    blocks.append(_buttons(paper.arxiv_id))
    by = f" — {authors}" if authors else ""
    return {"text": fit(f"{prefix}{title}{by} (arXiv {paper.arxiv_id})", 500), "blocks": blocks}


DIGEST_EVENT = "paperbot_digest"  # the metadata event type that marks a digest's messages in a channel


def digest_post(channel: str, payload: dict[str, Any], *, run_id: int | None, arxiv_id: str | None) -> dict[str, Any]:
    """The arguments of chat.postMessage for one digest message: what a real run sends and `--dry-run --json`
    prints. The metadata names the run (None in a preview: the claim assigns it) and the paper (or the header)."""
    event_payload: dict[str, Any] = {"run": run_id}
    event_payload.update({"arxiv_id": arxiv_id} if arxiv_id else {"header": True})
    return {
        "channel": channel,
        "text": payload["text"],
        "blocks": payload["blocks"],
        "unfurl_links": False,
        "unfurl_media": False,
        "metadata": {"event_type": DIGEST_EVENT, "event_payload": event_payload},
    }


def validate(payload: dict[str, Any]) -> None:
    """Raise ValueError if Slack would reject this message payload (limits and block schemas)."""
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("message has no plain-text fallback `text`")
    if len(text) > FALLBACK_LIMIT:
        raise ValueError(f"fallback text is {len(text)} characters (limit {FALLBACK_LIMIT})")
    blocks = payload.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        raise ValueError(f"a message holds at most {MAX_BLOCKS} blocks")
    block_ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("block_id")]
    if len(block_ids) != len(set(block_ids)):
        raise ValueError("block_id values repeat within the message")
    for i, block in enumerate(blocks):
        try:
            _validate_block(block)
        except (SlackObjectFormationError, ValueError, TypeError) as exc:
            raise ValueError(f"block {i} ({block.get('type') if isinstance(block, dict) else block!r}): {exc}") from exc


def _validate_block(block: Any) -> None:
    if not isinstance(block, dict):
        raise ValueError("not an object")
    if block.get("type") == "section":
        _validate_section(block)
    if block.get("type") == "context" and not 1 <= len(block.get("elements", [])) <= 10:
        raise ValueError("a context holds 1 to 10 elements")
    parsed = SlackBlock.parse(block)
    if parsed is None:
        raise ValueError("unknown block type")
    parsed.validate_json()
    # slack_sdk silently drops keys it doesn't know; Slack itself rejects them.
    if parsed.to_dict() != block:
        raise ValueError("unexpected or malformed fields")


def _validate_section(block: Block) -> None:
    texts = [block["text"].get("text", "")] if isinstance(block.get("text"), dict) else []
    texts += [f.get("text", "") for f in block.get("fields", []) if isinstance(f, dict)]
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ValueError("a section needs non-empty text or fields")
    if any(len(t) > SECTION_LIMIT for t in texts):
        raise ValueError(f"section text exceeds {SECTION_LIMIT} characters")


# ---- a paper's details, the Save button's answer, the Home tab -------------------------------------------------

UNSAVE_ACTION = "paper_unsave"
ABSTRACT_LIMIT = 2900
HOME_BLOCK_LIMIT = 100


class PaperDetailsLike(PaperLike, Protocol):
    """The extra fields the details view shows (storage.models.Paper has them all)."""

    @property
    def published(self) -> date | None: ...
    @property
    def categories(self) -> Sequence[str] | None: ...
    @property
    def comments(self) -> str | None: ...
    @property
    def journal_ref(self) -> str | None: ...
    @property
    def doi(self) -> str | None: ...


class ActivityLike(Protocol):
    """The team's activity on a paper (storage.votes.Activity)."""

    votes: int
    reactions: dict[str, int]
    replies: int
    channels: list[str]


def _title_link(paper: PaperLike) -> str:
    # A `*` inside the bold title would end the bold early; the lookalike U+2217 keeps "A*" readable.
    title = " ".join((paper.title or "").split()).replace("*", "∗") or paper.arxiv_id
    return link(paper_url(paper.arxiv_id), title)


def _facts_line(paper: PaperDetailsLike) -> str:
    facts = []
    if paper.published:
        facts.append(f"published {paper.published.isoformat()}")
    if paper.categories:
        facts.append(fit(", ".join(paper.categories), 200))
    if paper.journal_ref:
        facts.append(fit(paper.journal_ref, 200))
    if paper.doi:
        facts.append(link(f"https://doi.org/{paper.doi}", f"doi:{paper.doi}", 120))
    if paper.comments:
        facts.append(fit(paper.comments, 300))
    return " · ".join(facts)


def _team_line(activity: ActivityLike) -> str:
    votes = f"{activity.votes} vote{'' if activity.votes == 1 else 's'}"
    replies = f"{activity.replies} repl{'y' if activity.replies == 1 else 'ies'}"
    emoji = " ".join(f":{fit(name, 100)}: {n}" for name, n in sorted(activity.reactions.items(), key=lambda kv: -kv[1]))
    where = " in " + ", ".join(f"<#{c}>" for c in activity.channels[:10]) if activity.channels else ""
    posted = f"posted{where}" if activity.channels else "not posted in this workspace yet"
    return " · ".join(part for part in (f"Team: {votes}", replies, emoji, posted) if part)


def paper_details(paper: PaperDetailsLike, *, activity: ActivityLike, saved: bool) -> dict[str, Any]:
    """The Show details answer: the whole abstract, the paper's facts and links, and the team's activity."""
    authors = ", ".join(" ".join(a.split()) for a in paper.authors or [] if a and a.strip())
    head = f"*{_title_link(paper)}*" + (f"\n{fit(authors, 1500)}" if authors else "")
    blocks: list[Block] = [section(head)]
    if paper.ai_summary:
        blocks.append(section(f"_AI summary:_ {fit(paper.ai_summary, 1500)}"))
    if paper.abstract:
        blocks.append(section(fit(paper.abstract, ABSTRACT_LIMIT)))
    lines = [line for line in (_links_line(paper), _stats_line(paper), _facts_line(paper)) if line]
    lines.append(_team_line(activity) + (" · on your reading list" if saved else ""))
    blocks.append(context(*lines))
    return {"text": fit(f"{paper.title or paper.arxiv_id} (arXiv {paper.arxiv_id})", 500), "blocks": blocks}


def save_reply(paper: PaperLike, *, added: bool) -> dict[str, Any]:
    """The Save button's private answer."""
    title = _title_link(paper)
    text = (
        f"Saved {title} to your reading list: it's on paperbot's Home tab."
        if added
        else f"{title} is already on your reading list (paperbot's Home tab)."
    )
    return {
        "text": fit(f"Saved {paper.title}" if added else f"Already saved: {paper.title}", 500),
        "blocks": [section(f":bookmark: {text}")],
    }


def unknown_paper(arxiv_id: str) -> dict[str, Any]:
    """The answer when a button names a paper the database no longer knows."""
    text = f"I don't know the paper {fit(arxiv_id, 80)} any more; it may have been removed from the database."
    return {"text": text, "blocks": [section(text)]}


def home_view(saved: Sequence[PaperLike]) -> dict[str, Any]:
    """The App Home tab: the person's reading list, newest first, each with a Remove button."""
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": "Your reading list"}}]
    if not saved:
        blocks.append(section("Nothing saved yet. Press *Save* under a paper in a digest and it shows up here."))
    for paper in saved[: (HOME_BLOCK_LIMIT - 2)]:
        line = f"*{_title_link(paper)}*"
        authors = author_line(paper.authors)
        if authors:
            line += f"\n{fit(authors, 4 * AUTHOR_LIMIT)}"
        remove = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Remove"},
            "action_id": UNSAVE_ACTION,
            "value": paper.arxiv_id[:2000],
        }
        blocks.append({**section(line), "accessory": remove})
    blocks.append(context("Vote on a paper's digest message with :+1: :fire: :heart:; `/papers help` lists commands."))
    return {"type": "home", "blocks": blocks[:HOME_BLOCK_LIMIT]}


@dataclass(frozen=True)
class LastRun:
    """A channel's most recent digest run, as `/papers digest` reports it."""

    day: date
    status: str
    posted: int
    error: str | None = None


def digest_settings_text(
    *,
    channel_id: str,
    scheduled: bool,
    size: int,
    digest_time: str,
    timezone: str,
    include_weekends: bool,
    min_upvotes: int | None,
    filters: dict[str, list[str]],
    post_empty_notice: bool,
    last: LastRun | None,
) -> str:
    """`/papers digest`'s private reply: the channel's digest settings and its last run, as mrkdwn."""
    when = (
        f"{size} papers at {digest_time} ({timezone}), {'every day' if include_weekends else 'weekdays'}"
        if scheduled
        else "no scheduled digest here (`/papers config` sets one up)"
    )
    wanted = "; ".join(f"{k}: {', '.join(v)}" for k, v in filters.items() if v) or "none"
    lines = [
        f"*Digest for <#{channel_id}>*: {escape(when)}",
        f"Minimum HF upvotes: {min_upvotes or 'none'} · Filters: {escape(wanted)} · "
        f"Days without papers: {'a short notice' if post_empty_notice else 'skipped quietly'}",
    ]
    if last is None:
        lines.append("No digest has run here yet. `/papers digest now` posts one.")
    else:
        error = f" ({escape(last.error)})" if last.error else ""
        lines.append(f"Last run: the list of {last.day}, {last.status}, {last.posted} paper(s) posted{error}.")
    return "\n".join(lines)
