"""Hugging Face Daily Papers: parse its JSON items into PaperRecords, and fetch them over HTTP.

HF marks almost every field optional, so every lookup here tolerates a missing key and a JSON null alike; only the
arXiv id and the title are required.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx

from bot.config import Settings
from bot.links import normalize_arxiv_id
from bot.metrics import CountedTransport
from bot.retrying import GaveUp, Sleep, Transient, http_retrying, retry_after, scaled_sleep, wait_equal_jitter
from storage.records import PaperRecord
from storage.text import without_nul


def _text(value: Any) -> str | None:
    """A string field with its whitespace collapsed (HF abstracts carry hard line breaks), or None."""
    if not isinstance(value, str):
        return None
    collapsed = " ".join(value.split())
    return collapsed or None


def _int(value: Any) -> int | None:
    # bool is an int in Python, but `true` is never a count.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _day(value: Any) -> date | None:
    """The calendar date of an HF timestamp such as `2025-11-24T10:04:20.120Z` (or a bare date), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _authors(value: Any) -> list[str]:
    """Author names in order; hidden authors are kept (hidden only means 'no HF account linked')."""
    if not isinstance(value, list):
        return []
    names = (_text(a.get("name")) for a in value if isinstance(a, dict))
    return [name for name in names if name]


def _keywords(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [k for k in (_text(v) for v in value) if k]


def parse_daily_item(item: dict[str, Any]) -> PaperRecord:
    """A PaperRecord from one `daily_papers` item (`{"paper": {...}, "publishedAt", ...}`) or a flat
    `/papers/{id}` object; raises ValueError naming what is missing when there is no arXiv id or title."""
    if not isinstance(item, dict):
        raise ValueError(f"a Hugging Face paper item must be a JSON object, not {type(item).__name__}")
    item = without_nul(item)
    wrapped = isinstance(item.get("paper"), dict)
    paper: dict[str, Any] = item["paper"] if wrapped else item
    raw_id = paper.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ValueError("Hugging Face paper item has no paper.id (the arXiv id)")
    parsed = normalize_arxiv_id(raw_id)
    if parsed is None:
        raise ValueError(f"Hugging Face paper item has paper.id {raw_id!r}, which is not an arXiv id")
    arxiv_id, version = parsed
    title = _text(paper.get("title")) or _text(item.get("title"))
    if title is None:
        raise ValueError(f"Hugging Face paper item {arxiv_id} has no title")
    # The wrapper's publishedAt is the day it was on Daily Papers; a flat paper says submittedOnDailyAt.
    daily = _day(item.get("publishedAt")) if wrapped else _day(paper.get("submittedOnDailyAt"))
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        authors=_authors(paper.get("authors")),
        abstract=_text(paper.get("summary")) or _text(item.get("summary")),
        published=_day(paper.get("publishedAt")),
        hf_upvotes=_int(paper.get("upvotes")),
        hf_comments=_int(item.get("numComments")),
        ai_summary=_text(paper.get("ai_summary")),
        ai_keywords=_keywords(paper.get("ai_keywords")),
        github_repo=_text(paper.get("githubRepo")),
        github_stars=_int(paper.get("githubStars")),
        project_page=_text(paper.get("projectPage")),
        thumbnail=_text(item.get("thumbnail")),
        daily_date=daily,
        source="hf",
    )


# ---- the HTTP client ---------------------------------------------------------------------------------------

# The list for day D fills during D in New York and is complete late that evening (papers-apis.md).
HF_DAY_ZONE = ZoneInfo("America/New_York")
# HF's documented default page size: a server that caps `limit` can't cap below it, so a short page really
# is the last one.
PAGE_SIZE = 50
MAX_PAGES = 200  # a runaway guard should the server ever ignore `p`


def _user_agent() -> str:
    """`paperbot/<installed version> (…)`: who is asking, without a URL the project does not have."""
    try:
        version = metadata.version("paperbot")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        version = "unknown"
    return f"paperbot/{version} (Slack reading room for Hugging Face Daily Papers)"


USER_AGENT = _user_agent()

log = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """A paper source could not be read; the message names the URL, the reason and what to do."""


def newest_complete_day(now: datetime) -> date:
    """The day of the newest *complete* HF daily list at `now`: yesterday in US Eastern time.

    The list for day D fills during D (New York time) and is complete late that evening, so at any moment
    the list of the New York calendar day before today is the newest one that will not change. Naive
    datetimes are taken as UTC. Weekends are the digest's business, not this function's.
    `newest_complete_day(datetime(2025, 11, 25, 3, 0, tzinfo=UTC)) == date(2025, 11, 23)` (22:00 on the 24th
    in New York).
    """
    aware = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return aware.astimezone(HF_DAY_ZONE).date() - timedelta(days=1)


def parse_items(items: Iterable[Any], *, day: date | None = None) -> list[PaperRecord]:
    """PaperRecords of `daily_papers` items, first occurrence of each paper kept; an item without an id or
    title is logged and skipped. With `day`, every record is stamped as being on that day's list."""
    records: dict[str, PaperRecord] = {}
    for item in items:
        try:
            record = parse_daily_item(item)
        except ValueError as exc:
            log.warning("skipping a Hugging Face item: %s", exc)
            continue
        if day is not None:
            record.daily_date = day
        records.setdefault(record.arxiv_id, record)
    return list(records.values())


_NOT_FOUND = object()


def _utcnow() -> datetime:
    return datetime.now(UTC)


class HFClient:
    """The Hugging Face Daily Papers API over httpx: a timeout on every call, retries with exponential backoff
    and jitter on timeouts, connection errors, 5xx and malformed bodies, and 429s waited out as told
    (bot.retrying's HTTP policy).

    `max_retries` counts the retries after the first try (`retries` is an alias). `sleep` (by default
    `time.sleep` scaled by the settings' PAPERBOT_RETRY_WAIT_SCALE), `clock` and `jitter` are injectable so
    tests run without waiting.
    """

    def __init__(
        self,
        source: Settings | str,
        *,
        timeout: float | None = None,
        max_retries: int = 3,
        retries: int | None = None,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_wait: float = 300.0,
        page_size: int = PAGE_SIZE,
        sleep: Sleep | None = None,
        clock: Callable[[], datetime] = _utcnow,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        base = source if isinstance(source, str) else source.hf_api_url
        self.base_url = base if base.endswith("/") else base + "/"
        self.timeout = timeout or (20.0 if isinstance(source, str) else source.http_timeout)
        self.retries = max_retries if retries is None else retries
        self.backoff, self.max_backoff, self.max_wait = backoff, max_backoff, max_wait
        self.page_size = page_size
        scale = 1.0 if isinstance(source, str) else source.retry_wait_scale
        self._sleep = scaled_sleep(scale) if sleep is None else sleep
        self._clock, self._jitter = clock, jitter
        self._http = httpx.Client(
            timeout=self.timeout,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
            transport=CountedTransport("hf"),
        )

    def __enter__(self) -> HFClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # ---- the API -------------------------------------------------------------------------------------------
    def daily(self, day: date) -> list[dict[str, Any]]:
        """The raw `daily_papers` items of `day`, every page; `[]` for an empty day (weekend, not filled)."""
        return self._list({"date": day.isoformat()})

    def week(self, iso_week: str) -> list[dict[str, Any]]:
        """The raw items of an ISO week such as `2025-W48`, every page."""
        match = re.fullmatch(r"(\d{4})-W(\d{2})", iso_week)
        if not match or not 1 <= int(match[2]) <= 53:
            raise ValueError(f"{iso_week!r} is not an ISO week; write it as YYYY-Www, e.g. 2025-W48")
        return self._list({"week": iso_week})

    def month(self, yyyy_mm: str) -> list[dict[str, Any]]:
        """The raw items of a month such as `2025-11`, every page."""
        match = re.fullmatch(r"(\d{4})-(\d{2})", yyyy_mm)
        if not match or not 1 <= int(match[2]) <= 12:
            raise ValueError(f"{yyyy_mm!r} is not a month; write it as YYYY-MM, e.g. 2025-11")
        return self._list({"month": yyyy_mm})

    def daily_records(self, day: date) -> list[PaperRecord]:
        """The papers on `day`'s list as PaperRecords stamped with `daily_date=day`."""
        return parse_items(self.daily(day), day=day)

    def paper(self, arxiv_id: str) -> PaperRecord | None:
        """One paper by arXiv id (any spelling, version ignored), or None when Hugging Face lacks it."""
        parsed = normalize_arxiv_id(arxiv_id)
        if parsed is None:
            raise ValueError(f"{arxiv_id!r} is not an arXiv id")
        body = self._get(f"papers/{parsed[0]}", {}, not_found_ok=True)
        if body is _NOT_FOUND:
            return None
        if not isinstance(body, dict):
            raise SourceError(f"{self.base_url}papers/{parsed[0]} answered a {type(body).__name__}, not a paper object")
        return parse_daily_item(body)

    def newest_complete_day(self) -> date:
        """`newest_complete_day` at this client's clock."""
        return newest_complete_day(self._clock())

    # ---- plumbing ------------------------------------------------------------------------------------------
    def _list(self, params: dict[str, str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in range(MAX_PAGES):
            batch = self._get("daily_papers", {**params, "p": str(page), "limit": str(self.page_size)})
            if not isinstance(batch, list):
                raise SourceError(
                    f"{self.base_url}daily_papers answered a JSON {type(batch).__name__},"
                    f" not an array: is HF_API_URL ({self.base_url}) the Hugging Face API?"
                )
            items.extend(item for item in batch if isinstance(item, dict))
            if len(batch) < self.page_size:
                break
        return items

    def _get(self, path: str, params: dict[str, str], *, not_found_ok: bool = False) -> Any:
        """The JSON body of GET base/path, retried as the class docstring says, or a SourceError."""
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        retrying = http_retrying(
            retries=self.retries,
            backoff=wait_equal_jitter(base=self.backoff, cap=self.max_backoff, jitter=self._jitter),
            max_wait=self.max_wait,
            sleep=self._sleep,
            log=log,
            what=url,
        )
        try:
            return retrying(self._attempt, url, not_found_ok=not_found_ok)
        except GaveUp as exc:
            if exc.asked is not None and "429" in exc.reason:
                raise SourceError(
                    f"{url} is rate limited for another {exc.asked:.0f}s (HTTP 429; Hugging Face"
                    " allows 500 requests per 5 minutes): try again later"
                ) from None
            if exc.asked is not None:
                raise SourceError(
                    f"{url} is unavailable for another {exc.asked:.0f}s (HTTP 503): try again later"
                ) from None
            raise SourceError(
                f"gave up on {url} after {exc.tries} tries: {exc.reason}. Check the"
                f" network and HF_API_URL ({self.base_url}), or try again later"
            ) from None

    def _attempt(self, url: str, *, not_found_ok: bool) -> Any:
        """One GET: the JSON body or `_NOT_FOUND`; Transient for a failure worth retrying, SourceError for one
        that is not."""
        try:
            response = self._http.get(url)
        except httpx.TimeoutException:
            raise Transient(f"no answer within {self.timeout:g}s") from None
        except httpx.TransportError as exc:
            raise Transient(f"connection failed ({exc.__class__.__name__}: {exc})") from None
        status = response.status_code
        if status in (429, 503):  # both may say when to come back
            reason = "rate limited (HTTP 429)" if status == 429 else "HTTP 503 from the server"
            raise Transient(reason, retry_after(response.headers, self._clock()))
        if status >= 500:
            raise Transient(f"HTTP {status} from the server")
        if status == 404 and not_found_ok:
            return _NOT_FOUND
        if not response.is_success:
            raise SourceError(
                f"{url} answered HTTP {status} ({_detail(response)}); not retried: check the"
                f" request and HF_API_URL ({self.base_url})"
            )
        try:
            return response.json()
        except ValueError:
            raise Transient(f"the answer is not JSON (starts {response.content[:40]!r})") from None


def _detail(response: httpx.Response) -> str:
    """HF's own error message when the body has one, else the status phrase."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "error"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return error[:200]
    return response.reason_phrase or "error"
