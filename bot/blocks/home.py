"""The App Home tab: the team's top papers this week, your recent votes, your subscriptions, the channels' next
digests and your reading list (read or unread), as one view paged within Slack's 100 blocks.

`home_view` is the one builder: it lays the tab out as groups of blocks that must stay together (a heading with
its first item, a saved paper with its buttons), fills pages of at most 98 blocks with them in order, and adds
Previous / Next buttons (two blocks) when there is more than one page. The page shown travels in the view's
`private_metadata`, so a button pressed on page 3 redraws page 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from bot.blocks.common import VIEW_BLOCKS, Block, context, fit, image_accessory, section
from bot.blocks.paper import AUTHOR_LIMIT, PaperLike, author_line, title_link

HOME_BLOCK_LIMIT = VIEW_BLOCKS
UNSAVE_ACTION = "paper_unsave"
READ_ACTION = "home_mark_read"
UNREAD_ACTION = "home_mark_unread"
PREVIOUS_ACTION = "home_page_previous"
NEXT_ACTION = "home_page_next"
NAV_BLOCKS = 2  # "Page 2 of 3" and the Previous / Next buttons
LINES_LIMIT = 2900  # a list's lines are packed into sections of at most this many characters


class PicturedPaper(PaperLike, Protocol):
    """A paper with its picture (storage.models.Paper has both)."""

    @property
    def thumbnail(self) -> str | None: ...


class SavedLike(Protocol):
    """A paper on the reader's list (storage.saved.SavedEntry)."""

    @property
    def paper(self) -> PicturedPaper: ...
    @property
    def read_at(self) -> datetime | None: ...


class VoteLike(Protocol):
    """A paper the reader voted on (storage.votes.OwnVote)."""

    @property
    def paper(self) -> PicturedPaper: ...
    @property
    def emoji(self) -> Sequence[str]: ...
    @property
    def channel_id(self) -> str: ...
    @property
    def at(self) -> datetime: ...


class TopLike(Protocol):
    """One of the team's top papers this week, counted where the reader may see (bot.library.TopPaper)."""

    @property
    def paper(self) -> PicturedPaper: ...
    @property
    def votes(self) -> int: ...
    @property
    def replies(self) -> int: ...


class DigestLike(Protocol):
    """A channel's digest and when it comes next (bot.library.NextDigest)."""

    @property
    def channel_id(self) -> str: ...
    @property
    def at(self) -> datetime | None: ...
    @property
    def timezone(self) -> str: ...


class HomeLike(Protocol):
    """Everything the tab shows (bot.library.Home)."""

    @property
    def saved(self) -> Sequence[SavedLike]: ...
    @property
    def unread(self) -> int: ...
    @property
    def votes(self) -> Sequence[VoteLike]: ...
    @property
    def top(self) -> Sequence[TopLike]: ...
    @property
    def subscriptions(self) -> Sequence[str]: ...
    @property
    def digests(self) -> Sequence[DigestLike]: ...


def home_view(home: HomeLike, *, page: int = 0) -> dict[str, Any]:
    """The Home tab's page `page` (0-based; a page past the end shows the last one)."""
    pages = paginate(_groups(home), HOME_BLOCK_LIMIT - NAV_BLOCKS)
    page = max(0, min(page, len(pages) - 1))
    blocks = pages[page] + (_nav(page, len(pages)) if len(pages) > 1 else [])
    return {"type": "home", "private_metadata": str(page), "blocks": blocks}


def page_of(private_metadata: object) -> int:
    """The page a view shows, from its `private_metadata` (0 when it says nothing usable): `page_of("2") == 2`."""
    text = private_metadata.strip() if isinstance(private_metadata, str) else ""
    return int(text) if text.isdigit() and len(text) <= 4 else 0


def paginate(groups: Sequence[Sequence[Block]], size: int) -> list[list[Block]]:
    """Groups of blocks packed in order into pages of at most `size` blocks, never splitting a group (a group
    larger than a page is cut): `paginate([[1, 2], [3], [4, 5]], 3) == [[1, 2, 3], [4, 5]]`."""
    pages: list[list[Block]] = [[]]
    for group in groups:
        if pages[-1] and len(pages[-1]) + len(group) > size:
            pages.append([])
        pages[-1].extend(group[:size])
    return pages


def _groups(home: HomeLike) -> list[list[Block]]:
    return [
        *_top(home.top),
        *_votes(home.votes),
        *_subscriptions(home.subscriptions),
        *_digests(home.digests),
        *_reading_list(home.saved, home.unread),
        [context("Vote on a paper's message with :+1: :fire: :heart:; `/papers help` lists commands.")],
    ]


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def _paper_section(paper: PicturedPaper, extra: str) -> Block:
    """A paper's linked title and `extra` (already escaped), its picture as the accessory when it has one."""
    block = section(f"*{title_link(paper)}*" + (f"\n{extra}" if extra else ""))
    picture = image_accessory(getattr(paper, "thumbnail", None), paper.title or paper.arxiv_id)
    return {**block, "accessory": picture} if picture else block


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _top(top: Sequence[TopLike]) -> list[list[Block]]:
    head = [
        _header("The team's top papers this week"),
        context(
            "Votes and replies on papers posted in the last 7 days, in public channels and the private ones you are in."
        ),
    ]
    if not top:
        return [[*head, section("No votes or replies yet on this week's papers, in the channels you can see.")]]
    items = []
    for entry in top:
        counts = f"{_plural(entry.votes, 'vote', 'votes')} · {_plural(entry.replies, 'reply', 'replies')}"
        upvotes = entry.paper.hf_upvotes
        items.append(_paper_section(entry.paper, counts + (f" · ▲ {upvotes}" if upvotes is not None else "")))
    return [[*head, items[0]], *([item] for item in items[1:])]


def _votes(votes: Sequence[VoteLike]) -> list[list[Block]]:
    lines = []
    for vote in votes:
        emoji = " ".join(f":{fit(name, 100)}:" for name in vote.emoji)
        title = title_link(vote.paper)
        lines.append(f"{emoji} {title} · <#{vote.channel_id}> · {vote.at:%d %b}")
    return _listing("Your recent votes", lines, "No votes yet: react to a paper's message with a vote emoji.")


def _subscriptions(subscriptions: Sequence[str]) -> list[list[Block]]:
    if not subscriptions:
        return []
    lines = [f"{n}. `{fit(text, 400).replace('`', 'ˋ')}`" for n, text in enumerate(subscriptions, start=1)]
    groups = _listing("Your subscriptions", lines, "")
    groups.append([context("One DM a day with the new papers that match; `/papers unsubscribe <n>` stops one.")])
    return groups


def _digests(digests: Sequence[DigestLike]) -> list[list[Block]]:
    lines = []
    for digest in digests:
        if digest.at is None:
            lines.append(f"<#{digest.channel_id}> · no next digest scheduled")
            continue
        local = f"{digest.at:%a %d %b %H:%M} {fit(digest.timezone, 64)}"
        # Slack shows the moment in the reader's own time zone; the channel's own clock is the fallback.
        when = f"<!date^{int(digest.at.timestamp())}^{{date_short_pretty}} at {{time}}|{local}>"
        lines.append(f"<#{digest.channel_id}> · next digest {when} ({local})")
    empty = "No channel you can see has a daily digest; `/papers config digest on` in a channel starts one."
    return _listing("Channel digests", lines, empty)


def _listing(title: str, lines: Sequence[str], empty: str) -> list[list[Block]]:
    """A heading and its lines packed into as few sections as fit; `empty` when there are no lines."""
    if not lines:
        return [[_header(title), section(empty)]] if empty else []
    texts, current = [], ""
    for line in lines:
        line = line[:LINES_LIMIT]
        if current and len(current) + 1 + len(line) > LINES_LIMIT:
            texts.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    texts.append(current)
    sections = [section(text) for text in texts]
    return [[_header(title), sections[0]], *([s] for s in sections[1:])]


def _reading_list(saved: Sequence[SavedLike], unread: int) -> list[list[Block]]:
    head = [_header("Your reading list")]
    if not saved:
        return [[*head, section("Nothing saved yet. Press *Save* under a paper in a digest and it shows up here.")]]
    head.append(context(f"{_plural(len(saved), 'paper', 'papers')} · {unread} unread · unread first"))
    groups = []
    for entry in saved:
        paper = entry.paper
        lines = [author_line(paper.authors)]
        lines = [fit(lines[0], 4 * AUTHOR_LIMIT)] if lines[0] else []
        lines.append(f":white_check_mark: read {entry.read_at:%d %b}" if entry.read_at else ":new: unread")
        toggle = _button("Mark unread", UNREAD_ACTION, paper.arxiv_id) if entry.read_at else None
        buttons = [
            toggle or _button("Mark read", READ_ACTION, paper.arxiv_id),
            _button("Remove", UNSAVE_ACTION, paper.arxiv_id),
        ]
        groups.append([_paper_section(paper, "\n".join(lines)), {"type": "actions", "elements": buttons}])
    return [[*head, *groups[0]], *groups[1:]]


def _button(text: str, action_id: str, value: str) -> Block:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value[:2000],
    }


def _nav(page: int, pages: int) -> list[Block]:
    buttons = []
    if page > 0:
        buttons.append(_button("Previous", PREVIOUS_ACTION, str(page - 1)))
    if page < pages - 1:
        buttons.append(_button("More", NEXT_ACTION, str(page + 1)))
    return [context(f"Page {page + 1} of {pages}"), {"type": "actions", "elements": buttons}]
