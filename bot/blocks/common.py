"""The Block Kit basics every builder uses: escaping and clipping text, safe links, sections and context
blocks, and `validate`, which checks a payload against Slack's limits and block schemas.

Every user- or paper-supplied string goes through `escape` (mrkdwn needs &, <, > escaped) and `clip`
(section text is capped at 3,000 characters by Slack); `fit` does both.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block as SlackBlock
from slack_sdk.models.views import View

Block = dict[str, Any]

SECTION_LIMIT = 3000
FALLBACK_LIMIT = 4000
MAX_BLOCKS = 50
VIEW_BLOCKS = 100  # a Home tab or modal holds at most this many blocks
TITLE_LIMIT = 300
URL_LIMIT = 1000

# Characters that would end a `<url|label>` link early or split it; percent-encoded in URLs.
_URL_UNSAFE = {"<": "%3C", ">": "%3E", "|": "%7C", " ": "%20", '"': "%22"}


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


IMAGE_URL_LIMIT = 3000
ALT_TEXT_LIMIT = 2000


def image_accessory(url: str | None, alt_text: str) -> Block | None:
    """A section's image accessory for a paper picture, or None when there is no usable picture.

    Slack fetches the image itself, so only an https URL of at most 3,000 characters is accepted; the alt text
    (the paper's title) is clipped to Slack's 2,000 characters, its angle brackets made harmless:
    `image_accessory("http://x/a.png", "T") is None`,
    `image_accessory("https://x/a.png", "T") == {"type": "image", "image_url": "https://x/a.png", "alt_text": "T"}`.
    """
    if not url:
        return None
    url = url.strip()
    if not url.lower().startswith("https://") or len(url) > IMAGE_URL_LIMIT:
        return None
    if any(not ch.isprintable() or ch.isspace() or ch in '<>"' for ch in url):
        return None
    # Plain text, but a title's `<!channel>` or `<url|label>` should not even look like one to a client.
    alt = clip(alt_text, ALT_TEXT_LIMIT).replace("<", "‹").replace(">", "›") or "paper picture"
    return {"type": "image", "image_url": url, "alt_text": alt}


def without_pictures(payload: dict[str, Any]) -> dict[str, Any]:
    """The message with every image accessory taken off its sections (what is posted when Slack could not fetch
    a picture); a message without pictures comes back as it is."""
    blocks = payload.get("blocks")
    if not isinstance(blocks, list) or not has_pictures(payload):
        return payload
    bare = [
        {k: v for k, v in b.items() if k != "accessory"} if _is_picture(b.get("accessory")) else b
        for b in blocks
        if isinstance(b, dict)
    ]
    return {**payload, "blocks": bare}


def has_pictures(payload: dict[str, Any]) -> bool:
    """True when a section of the message carries an image accessory."""
    blocks = payload.get("blocks")
    return isinstance(blocks, list) and any(isinstance(b, dict) and _is_picture(b.get("accessory")) for b in blocks)


def _is_picture(accessory: Any) -> bool:
    return isinstance(accessory, dict) and accessory.get("type") == "image"


def compact(n: int) -> str:
    """A count for humans: `compact(950) == "950"`, `compact(12345) == "12.3k"`."""
    if n < 1000:
        return str(n)
    return f"{n / 1000:.1f}".rstrip("0").rstrip(".") + "k"


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


def validate_view(view: dict[str, Any]) -> None:
    """Raise ValueError if Slack would reject this Home tab view (its type, 100 blocks, private_metadata, each
    block's schema, block ids repeating, action ids repeating within a block)."""
    blocks = view.get("blocks")
    if view.get("type") != "home" or not isinstance(blocks, list) or not 1 <= len(blocks) <= VIEW_BLOCKS:
        raise ValueError(f"a Home tab view is of type home and holds 1 to {VIEW_BLOCKS} blocks")
    try:
        View(**view).validate_json()
    except (SlackObjectFormationError, TypeError) as exc:
        raise ValueError(f"view: {exc}") from exc
    block_ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("block_id")]
    if len(block_ids) != len(set(block_ids)):
        raise ValueError("block_id values repeat within the view")
    for i, block in enumerate(blocks):
        try:
            _validate_block(block)
            action_ids = [e.get("action_id") for e in block.get("elements", []) if e.get("action_id")]
            if block.get("type") == "actions" and len(action_ids) != len(set(action_ids)):
                raise ValueError("action_id values repeat within the block")
        except (SlackObjectFormationError, ValueError, TypeError, AttributeError) as exc:
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
