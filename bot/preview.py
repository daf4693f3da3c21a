"""Terminal preview of Block Kit messages: what `paperbot digest --dry-run` shows instead of posting.

Pure rendering with rich: payloads in, text on a console out. It reads the payloads exactly as they would be
sent, so a person sees what Slack would show (mrkdwn formatting, links, buttons), not a second rendering of
the paper data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.emoji import Emoji, NoEmoji
from rich.panel import Panel
from rich.rule import Rule
from rich.style import Style
from rich.table import Table
from rich.text import Text

from bot.digest.context import DigestStatus, Outcome

PANEL_WIDTH = 100

_LINK = re.compile(r"<([^<>]*)>")
_EMOJI = re.compile(r":([a-z0-9_+\-]+):")
# Slack formats *bold*, _italic_, ~strike~ and `code` only when the markers sit at word edges.
_SPANS = {marker: re.compile(rf"(?<!\w){re.escape(marker)}(?=\S)(.*?\S){re.escape(marker)}(?!\w)") for marker in "*_~`"}
_SPAN_STYLES = {
    "*": Style(bold=True),
    "_": Style(italic=True),
    "~": Style(strike=True),
    "`": Style(color="magenta"),
}
_BUTTON_STYLES = {"primary": "bold white on green", "danger": "bold white on red"}
_EMOJI_ALIASES = {"+1": "thumbs_up", "-1": "thumbs_down", "thumbsup": "thumbs_up"}


def unescape(text: str) -> str:
    """Undo mrkdwn escaping: `unescape("a &lt;b&gt; &amp; c") == "a <b> & c"`."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _emoji(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        try:
            return str(Emoji(_EMOJI_ALIASES.get(name, name)))
        except NoEmoji:
            return match.group(0)

    return _EMOJI.sub(one, text)


def _special(token: str, style: Style, show_urls: bool) -> Text:
    """One `<...>` token: a link, a user/channel mention, or a broadcast like `<!here>`."""
    target, _, label = token.partition("|")
    if target.startswith("@"):
        return Text(f"@{label or target[1:]}", style=style + Style(color="cyan"))
    if target.startswith("#"):
        return Text(f"#{label or target[1:]}", style=style + Style(color="cyan"))
    if target.startswith("!"):
        return Text(f"@{label or target[1:].split('^')[0]}", style=style + Style(color="yellow", bold=True))
    url = unescape(target)
    out = Text(unescape(label) or url, style=style + Style(color="blue", underline=True, link=url))
    if show_urls and label:
        out.append(f" ({url})", style=style + Style(dim=True))
    return out


def _first_match(text: str) -> tuple[str, int, int, str] | None:
    """The earliest link or formatting span in `text`: (kind, start, end, inner text); kind "<" is a link."""
    link = _LINK.search(text)
    # Markers inside a link (a URL's `_`, a label's `*`) don't format in Slack: hide links from the spans.
    masked = _LINK.sub(lambda m: "<" + "\0" * (len(m.group(0)) - 2) + ">", text)
    found = [("<", link.start(), link.end(), link.group(1))] if link else []
    for marker, rx in _SPANS.items():
        span = rx.search(masked)
        if span:
            found.append((marker, span.start(), span.end(), text[span.start(1) : span.end(1)]))
    return min(found, key=lambda hit: hit[1]) if found else None


def mrkdwn(text: str, *, style: Style | None = None, show_urls: bool = False) -> Text:
    """Slack mrkdwn as rich Text: formatting applied, links as labels, entities and :emoji: decoded."""
    base = style or Style()
    out = Text()
    while text:
        hit = _first_match(text)
        if hit is None:
            out.append(_emoji(unescape(text)), style=base)
            break
        kind, start, end, inner = hit
        out.append(_emoji(unescape(text[:start])), style=base)
        if kind == "<":
            out.append_text(_special(inner, base, show_urls))
        elif kind == "`":
            out.append(unescape(inner), style=base + _SPAN_STYLES[kind])
        else:
            out.append_text(mrkdwn(inner, style=base + _SPAN_STYLES[kind], show_urls=show_urls))
        text = text[end:]
    return out


def _text_object(obj: dict[str, Any], show_urls: bool, style: Style | None = None) -> Text:
    """A Block Kit text object (mrkdwn or plain_text) as rich Text."""
    if obj.get("type") == "mrkdwn":
        return mrkdwn(obj.get("text", ""), style=style, show_urls=show_urls)
    return Text(_emoji(obj.get("text", "")), style=style or Style())


def _element(element: dict[str, Any], show_urls: bool) -> Text:
    """An interactive or context element: buttons as `[ label ]`, anything else as its type."""
    kind = element.get("type", "?")
    if kind in ("mrkdwn", "plain_text"):
        return _text_object(element, show_urls, Style(dim=True))
    if kind == "button":
        label = element.get("text", {}).get("text", "")
        style = _BUTTON_STYLES.get(element.get("style", ""), "bold reverse")
        return Text(f"[ {label} ]", style=style)
    if kind == "image":  # Slack shows the picture itself; the terminal says where (its URL with show_urls)
        url = f" {element.get('image_url', '')}" if show_urls else ""
        return Text(f"[image{url}]", style="dim italic")
    return Text(f"[{kind}]", style="dim italic")


def _section(block: dict[str, Any], show_urls: bool) -> RenderableType:
    parts: list[RenderableType] = []
    if isinstance(block.get("text"), dict):
        parts.append(_text_object(block["text"], show_urls))
    if block.get("fields"):
        grid = Table.grid(padding=(0, 3))
        grid.add_column()
        grid.add_column()
        cells = [_text_object(f, show_urls) for f in block["fields"]]
        for i in range(0, len(cells), 2):
            grid.add_row(*cells[i : i + 2])
        parts.append(grid)
    body: RenderableType = Group(*parts)
    if isinstance(block.get("accessory"), dict):
        row = Table.grid(expand=True)
        row.add_column(ratio=1)
        row.add_column(justify="right")
        row.add_row(body, _element(block["accessory"], show_urls))
        return row
    return body


def block_renderable(block: dict[str, Any], *, show_urls: bool = False) -> RenderableType:
    """One Block Kit block as a rich renderable; unknown block types are shown by name."""
    kind = block.get("type")
    if kind == "section":
        return _section(block, show_urls)
    if kind == "header":
        return Text(block.get("text", {}).get("text", ""), style="bold underline")
    if kind == "context":
        return Text("  ").join(_element(e, show_urls) for e in block.get("elements", []))
    if kind == "actions":
        return Text(" ").join(_element(e, show_urls) for e in block.get("elements", []))
    if kind == "divider":
        return Rule(style="dim")
    if kind == "image":
        return _element(block, show_urls)
    return Text(f"[{kind} block]", style="dim italic")


def message_panel(payload: dict[str, Any], *, title: str | None = None, show_urls: bool = False) -> Panel:
    """One message as a panel: its blocks, or its fallback text when it has none."""
    blocks = payload.get("blocks") or []
    body = [block_renderable(b, show_urls=show_urls) for b in blocks if isinstance(b, dict)]
    if not body:
        body = [mrkdwn(payload.get("text", ""), show_urls=show_urls)]
    return Panel(Group(*body), title=title, title_align="right", border_style="bright_black", padding=(0, 1))


def render(
    payloads: Sequence[dict[str, Any]],
    *,
    console: Console,
    note: str | None = None,
    show_urls: bool = False,
) -> None:
    """Print messages to the terminal as Slack would show them, one panel per message, `note` on top."""
    if note:
        console.print(Text(note, style="yellow"))
    width = min(console.width, PANEL_WIDTH)
    for i, payload in enumerate(payloads, 1):
        title = f"[dim]message {i} of {len(payloads)}[/]"
        console.print(message_panel(payload, title=title, show_urls=show_urls), width=width)


def show_outcomes(outcomes: Sequence[Outcome], *, as_json: bool) -> str | None:
    """Print what `paperbot digest` did (previews rendered, or as JSON); returns a failure reason, if any."""
    out, err = Console(), Console(stderr=True)
    if as_json:
        data: list[dict[str, Any]] = []
        for o in outcomes:
            if o.status == DigestStatus.PREVIEW:  # chat.postMessage's arguments, exactly as a real run sends them
                data += o.payloads
            else:
                data.append(
                    {
                        "channel": o.channel_id,
                        "date": str(o.day),
                        "status": o.status,
                        "posted": o.posted,
                        "message": o.message,
                        **({"note": o.note} if o.note else {}),
                    }
                )
        print(json.dumps(data, indent=2, ensure_ascii=False))
    for o in outcomes:
        stream = err if as_json else out
        if o.status == DigestStatus.PREVIEW and not as_json:
            render(o.payloads, console=out, note=o.note)
            out.print(f"[bold]Dry run:[/] {o.message} Nothing was posted.", highlight=False, soft_wrap=True)
            continue
        if o.note:
            stream.print(o.note, style="yellow", markup=False, highlight=False, soft_wrap=True)
        if o.status not in (DigestStatus.FAILED, DigestStatus.NOT_READY):  # failures: to stderr once, as the reason
            stream.print(o.message, markup=False, highlight=False, soft_wrap=True)
    failed = [o for o in outcomes if o.status in (DigestStatus.FAILED, DigestStatus.NOT_READY)]
    return "; ".join(o.message for o in failed) if failed else None
