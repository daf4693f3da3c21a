"""Block Kit for link unfurls: a compact paper card (title, first authors, year, HF upvotes, links, its picture),
and, when the team has talked about the paper where the link was posted may see it, one line of that history,
links to the newest threads and the opening line of the best reply.

Pure (STYLE rule 3): data in, one `chat.unfurl` entry (`{"blocks": [...]}`) out; every string people or papers
supply is escaped, and a reply's Slack markup (links, mentions, `@here`) is flattened so it cannot ping or
smuggle a link in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from bot.blocks.common import Block, clip, compact, context, escape, fit, image_accessory, link, safe_url, section
from bot.blocks.paper import author_line, github_url
from bot.links import abs_url, alphaxiv_url, hf_url, pdf_url
from storage.digests import aware
from storage.lookups import QuotedReply, Thread

THREADS_SHOWN = 3  # permalinks on a card, newest first
QUOTE_LIMIT = 200  # characters of the quoted reply's first line

# One piece of Slack markup in a message's text: <https://x|label>, <@U123>, <#C123|name>, <!here>.
_MARKUP = re.compile(r"<([^<>]*)>")
_PERSON = re.compile(r"@[UW][A-Z0-9]+")
_CHANNEL = re.compile(r"#[CG][A-Z0-9]+")


class UnfurlPaper(Protocol):
    """What a card reads of a paper (storage.models.Paper has it all)."""

    @property
    def arxiv_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def authors(self) -> Sequence[str] | None: ...
    @property
    def published(self) -> date | None: ...
    @property
    def daily_date(self) -> date | None: ...
    @property
    def hf_upvotes(self) -> int | None: ...
    @property
    def github_repo(self) -> str | None: ...
    @property
    def thumbnail(self) -> str | None: ...


class History(Protocol):
    """The team's activity on the paper as the place of the link may see it (bot.unfurls.History)."""

    @property
    def votes(self) -> int: ...
    @property
    def replies(self) -> int: ...
    @property
    def threads(self) -> Sequence[Thread]: ...  # newest first
    @property
    def permalinks(self) -> dict[tuple[str, str], str]: ...
    @property
    def quoted(self) -> QuotedReply | None: ...


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def _when(moment: datetime) -> str:
    """A day Slack shows in the reader's own time zone; the fallback reads `12 Nov 2026`."""
    # aware(): SQLite hands stored UTC times back without a zone, which timestamp() would read as local time.
    return f"<!date^{int(aware(moment).timestamp())}^{{date_short}}|{_day(moment)}>"


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def _head(paper: UnfurlPaper) -> str:
    day = paper.published or paper.daily_date
    facts = [author_line(paper.authors), str(day.year) if day else ""]
    if paper.hf_upvotes is not None:
        facts.append(f"▲ {compact(paper.hf_upvotes)} on Hugging Face")
    line = fit(" · ".join(f for f in facts if f), 1200)
    # A `*` inside the bold title would end the bold early; the lookalike U+2217 keeps "A*" readable.
    title = " ".join((paper.title or "").split()).replace("*", "∗") or paper.arxiv_id
    return f"*{link(hf_url(paper.arxiv_id), title)}*" + (f"\n{line}" if line else "")


def _links(paper: UnfurlPaper) -> str:
    parts = [
        link(abs_url(paper.arxiv_id), f"arXiv {paper.arxiv_id}", 80),
        link(pdf_url(paper.arxiv_id), "PDF"),
        link(hf_url(paper.arxiv_id), "Hugging Face"),
        link(alphaxiv_url(paper.arxiv_id), "alphaXiv"),
    ]
    if safe_url(github_url(paper.github_repo)):
        parts.append(link(github_url(paper.github_repo), "Code"))
    return " · ".join(parts)


def history_line(history: History) -> str:
    """`discussed 3 times — last in <#C1> on <date> · 5 votes · 7 replies` ("" when never discussed)."""
    if not history.threads:
        return ""
    last = history.threads[0]
    return (
        f"discussed {_plural(len(history.threads), 'time')} — last in <#{last.channel_id}> on {_when(last.posted_at)}"
        f" · {_plural(history.votes, 'vote')} · {_plural(history.replies, 'reply', 'replies')}"
    )


def _thread_links(history: History) -> list[str]:
    lines = []
    for thread in history.threads[:THREADS_SHOWN]:
        url = history.permalinks.get((thread.channel_id, thread.ts))
        label = f"{thread.kind} thread, {_day(thread.posted_at)}"
        lines.append(
            f"• {link(url, label) if url else label} in <#{thread.channel_id}>"
            f" · {_plural(thread.replies, 'reply', 'replies')}"
        )
    return lines


def plain_reply(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A reply's first non-empty line, Slack markup flattened and escaped: links become their label, people and
    channels stay mentions, `<!here>` and friends become plain words that ping nobody.

    >>> plain_reply("see <https://x.org/a|this> <@U1> <!here> & more")
    'see this <@U1> @here &amp; more'
    """
    # Cut first: a token cut in half has no closing `>` any more and is escaped like any other text.
    line = clip(next((ln.strip() for ln in text.splitlines() if ln.strip()), ""), limit)
    pieces, end = [], 0
    for match in _MARKUP.finditer(line):
        pieces.append(escape(line[end : match.start()]))
        target, _, label = match[1].partition("|")
        if _PERSON.fullmatch(target) or _CHANNEL.fullmatch(target):
            pieces.append(f"<{target}>")
        elif target.startswith("!"):
            pieces.append(escape(label or "@" + target[1:].split("^")[0]))
        else:
            pieces.append(escape(label or target))
        end = match.end()
    pieces.append(escape(line[end:]))
    return "".join(pieces)


def paper_unfurl(paper: UnfurlPaper, history: History | None) -> dict[str, Any]:
    """One link's unfurl: the card, plus the team's history when there is one (None or no thread: a plain card)."""
    head = section(_head(paper))
    if (picture := image_accessory(paper.thumbnail, paper.title or paper.arxiv_id)) is not None:
        head["accessory"] = picture
    blocks: list[Block] = [head, context(_links(paper))]
    said = history_line(history) if history is not None else ""
    if history is not None and said:
        blocks.append(section("\n".join([f":speech_balloon: {said}", *_thread_links(history)])[:2900]))
        quoted = history.quoted
        if quoted is not None and (line := plain_reply(quoted.text)):
            blocks.append(context(f"“{line}” — <@{quoted.user_id}>"))
    return {"blocks": blocks}


def fallback_text(paper: UnfurlPaper) -> str:
    """The card's one-line summary (for logs and for checking the card as a message)."""
    return fit(f"{paper.title or paper.arxiv_id} (arXiv {paper.arxiv_id})", 500)
