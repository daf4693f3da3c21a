"""arXiv identifiers and paper links: pure parsers and the one place paper URLs are built, no I/O.

Papers are keyed by their *versionless* arXiv id. Two id styles exist (arXiv's identifier scheme):
new style `YYMM.NNNN` (0704–1412) / `YYMM.NNNNN` (from 1501), and old style `archive[.SC]/YYMMNNN`
(9107–0703), each optionally followed by a version `vN`. An old-style subject class `.SC` is accepted and
checked but is not part of the identifier: `math.GT/0309136v2` is the paper `math/0309136` (version v2), the
form the arXiv API and the metadata snapshot use, so the key drops it.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote

# Where people read a paper (not the APIs paperbot asks: their base URLs are Settings).
ARXIV = "https://arxiv.org"
HF_PAPERS = "https://huggingface.co/papers"
ALPHAXIV = "https://www.alphaxiv.org"

# The hosts whose paper links Slack sends as link_shared (the manifests' unfurl_domains; subdomains included).
UNFURL_DOMAINS = ("arxiv.org", "huggingface.co", "hf.co", "alphaxiv.org")

# The id patterns are written once and reused inside the link patterns below.
_NEW = r"\d{4}\.\d{4,5}"
_OLD = r"[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z][A-Za-z-]{1,8})?/\d{7}"
_ID = rf"(?P<id>{_NEW}|{_OLD})(?P<version>v\d+)?"
# An id ends where no further id character follows; a trailing sentence period is fine.
_END = r"(?![\w\-]|\.\w)"

_BARE = re.compile(rf"(?:arxiv:)?{_ID}(?:\.pdf)?", re.IGNORECASE)

# Every link form of papers-apis.md. Hosts are matched case-insensitively; ids are case-sensitive
# except the old-style subject class, which `_valid` checks.
_LINK = re.compile(
    r"(?:https?://)?(?:www\.)?"
    r"(?:(?:export\.)?arxiv\.org/(?:abs|pdf|html)"
    r"|(?:huggingface\.co|hf\.co)/papers"
    r"|alphaxiv\.org/(?:abs|overview))"
    rf"/{_ID}(?:\.pdf)?{_END}",
    re.IGNORECASE,
)
# An explicit `arXiv:2410.13732` mention in prose counts too; a bare number does not (too many false hits).
_MENTION = re.compile(rf"\barxiv:\s?{_ID}{_END}", re.IGNORECASE)


def _canonical(arxiv_id: str) -> str:
    """The id without an old-style subject class: `math.GT/0309136` → `math/0309136`; others unchanged."""
    if "/" not in arxiv_id:
        return arxiv_id
    archive, number = arxiv_id.split("/")
    return f"{archive.split('.')[0]}/{number}"


def _valid(arxiv_id: str) -> bool:
    """Whether year/month and number length fit arXiv's scheme (rejects e.g. `2413.12345`, `1501.1234`)."""
    if "/" in arxiv_id:
        archive, number = arxiv_id.split("/")
        yymm = int(number[:4])
        # Old-style ids ran from 9107 to 0703; the archive is lower case, a subject class upper case.
        in_range = yymm >= 9107 or yymm <= 703
        return in_range and archive.split(".")[0].islower() and 1 <= yymm % 100 <= 12
    yymm_text, number = arxiv_id.split(".")
    yymm = int(yymm_text)
    if not 1 <= yymm % 100 <= 12 or yymm < 704:
        return False
    return len(number) == (4 if yymm <= 1412 else 5)


def normalize_arxiv_id(text: str) -> tuple[str, str | None] | None:
    """The versionless id and the version (or None) of an arXiv id, or None when `text` is not one.

    An old-style subject class is dropped (it is not part of the identifier), so both spellings of a paper
    get one key.

    >>> normalize_arxiv_id("arXiv:2410.13732v2")
    ('2410.13732', 'v2')
    >>> normalize_arxiv_id("math.CA/0611800v2.pdf")
    ('math/0611800', 'v2')
    >>> normalize_arxiv_id("hep-th/9901001")
    ('hep-th/9901001', None)
    >>> normalize_arxiv_id("2410.1373") is None
    True
    """
    match = _BARE.fullmatch(text.strip())
    if not match or not _valid(match["id"]):
        return None
    version = match["version"].lower() if match["version"] else None
    return _canonical(match["id"]), version


def find_arxiv_ids(text: str) -> list[str]:
    """Versionless arXiv ids of every paper link (and `arXiv:` mention) in `text`, in order, no repeats.

    Slack's `<url|label>` link syntax works as is: the URL ends at `|` or `>`. Ids are those of
    `normalize_arxiv_id`: an old-style subject class is dropped.

    >>> find_arxiv_ids("see <https://arxiv.org/abs/2410.13732v2|this> and hf.co/papers/2306.00356")
    ['2410.13732', '2306.00356']
    >>> find_arxiv_ids("arxiv.org/abs/math.GT/0309136 is arxiv.org/abs/math/0309136v1")
    ['math/0309136']
    >>> find_arxiv_ids("https://www.alphaxiv.org/abs/some-slug")
    []
    """
    found: list[tuple[int, str]] = []
    for pattern in (_LINK, _MENTION):
        found.extend((m.start(), _canonical(m["id"])) for m in pattern.finditer(text) if _valid(m["id"]))
    ids: list[str] = []
    for _, arxiv_id in sorted(found):
        if arxiv_id not in ids:
            ids.append(arxiv_id)
    return ids


def paper_id(text: str) -> str | None:
    """The versionless arXiv id that `text` as a whole refers to — an id in any form, or a paper link
    (arXiv abs/pdf/html, Hugging Face, alphaXiv; with or without scheme, in Slack's `<url|label>` form too) —
    or None. Unlike `find_arxiv_ids`, a link must *start* with the paper's address, so a URL that only mentions
    one in its query string is not a reference to it.

    >>> paper_id("arXiv:2410.13732v2"), paper_id("<https://arxiv.org/pdf/2410.13732v1.pdf|the pdf>")
    ('2410.13732', '2410.13732')
    >>> paper_id("https://www.alphaxiv.org/overview/2306.00356"), paper_id("hf.co/papers/math.GT/0309136")
    ('2306.00356', 'math/0309136')
    >>> paper_id("https://example.com/?next=arxiv.org/abs/2410.13732") is None
    True
    """
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].split("|", 1)[0]
    if bare := normalize_arxiv_id(text):
        return bare[0]
    match = _LINK.match(text)
    return _canonical(match["id"]) if match and _valid(match["id"]) else None


def _quoted(arxiv_id: str) -> str:
    """The id as a URL path: old-style ids keep their slash; anything odd is percent-encoded."""
    return quote(arxiv_id.strip(), safe="/.")


def abs_url(arxiv_id: str) -> str:
    """The arXiv abstract page: `abs_url("2410.13732") == "https://arxiv.org/abs/2410.13732"`."""
    return f"{ARXIV}/abs/{_quoted(arxiv_id)}"


def pdf_url(arxiv_id: str) -> str:
    """The arXiv PDF: `pdf_url("hep-th/9901001") == "https://arxiv.org/pdf/hep-th/9901001"`."""
    return f"{ARXIV}/pdf/{_quoted(arxiv_id)}"


def hf_url(arxiv_id: str) -> str:
    """The Hugging Face paper page: `hf_url("2410.13732") == "https://huggingface.co/papers/2410.13732"`."""
    return f"{HF_PAPERS}/{_quoted(arxiv_id)}"


def hf_day_url(day: date) -> str:
    """A day's Hugging Face Daily Papers: `hf_day_url(date(2025, 11, 24)) ==
    "https://huggingface.co/papers/date/2025-11-24"`."""
    return f"{HF_PAPERS}/date/{day.isoformat()}"


def alphaxiv_url(arxiv_id: str) -> str:
    """The paper's alphaXiv discussion page: `alphaxiv_url("2410.13732") == "https://www.alphaxiv.org/abs/2410.13732"`."""
    return f"{ALPHAXIV}/abs/{_quoted(arxiv_id)}"
