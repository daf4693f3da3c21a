"""A loopback arXiv API: `GET /api/query` answering real-shaped Atom feeds with the arXiv namespace.

Papers come from the bundled sample (the 31 real papers of tests/data/seed-papers.json, all new-style
ids); a test adds more with `add_paper`, old-style ones too, whose entry ids arXiv writes as
`http://arxiv.org/abs/hep-th/9901001v1` (archive/number, no subject class). `id_list` and `search_query=cat:X`
(with `start`/`max_results`) are answered; a malformed id gets arXiv's 400 with one error entry (id
`http://arxiv.org/api/errors#…`, title "Error"); a well-formed unknown id is simply absent. It logs every
request (and, given a `clock`, the time each one arrived), counts connections open at once, and can fail on
demand (status, body) or hold a request for a while.
"""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse
from xml.sax.saxutils import escape

from bot.links import normalize_arxiv_id
from bot.sources.sample import sample_items
from tests.fakes import QuietHandler, serve_in_background, stop_server

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"'
    ' xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
)


def seed_papers() -> dict[str, dict[str, Any]]:
    """The sample's papers keyed by id, in the fields an arXiv entry has."""
    papers = {}
    for item in sample_items():
        paper = item["paper"]
        papers[paper["id"]] = {
            "id": paper["id"],
            "title": paper["title"],
            "summary": paper["summary"],
            "authors": [a["name"] for a in paper["authors"]],
            "published": paper["publishedAt"],
            "primary": item.get("_paperbot", {}).get("primary_category"),
            "version": "v1",
        }
    return papers


def entry_xml(paper: dict[str, Any]) -> str:
    """One `<entry>` as arXiv writes it: title and summary wrapped with line breaks and indentation."""
    vid = f"{paper['id']}{paper['version']}"
    stamp = f"{paper['published']}T17:59:59Z"
    title = "\n  ".join(textwrap.wrap(paper["title"], 60, break_on_hyphens=False))
    summary = "\n".join(textwrap.wrap(paper["summary"], 78, break_on_hyphens=False))
    parts = [
        f"<id>http://arxiv.org/abs/{vid}</id>",
        f"<updated>{paper.get('updated', stamp)}</updated>",
        f"<published>{stamp}</published>",
        f"<title>{escape(title)}</title>",
        f"<summary>  {escape(summary)}\n</summary>",
    ]
    parts += [f"<author><name>{escape(name)}</name></author>" for name in paper["authors"]]
    for key, tag in (("doi", "arxiv:doi"), ("comment", "arxiv:comment"), ("journal_ref", "arxiv:journal_ref")):
        if paper.get(key):
            parts.append(f"<{tag}>{escape(paper[key])}</{tag}>")
    parts += [
        f'<link href="http://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>',
        f'<link title="pdf" href="http://arxiv.org/pdf/{vid}" rel="related" type="application/pdf"/>',
    ]
    categories = [c for c in [paper.get("primary"), *paper.get("also", [])] if c]
    if categories:
        parts.append(f'<arxiv:primary_category term="{categories[0]}" scheme="http://arxiv.org/schemas/atom"/>')
    parts += [f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in categories]
    return "<entry>\n" + "\n".join(parts) + "\n</entry>\n"


def feed_xml(entries: list[str], *, total: int, start: int, query: str) -> str:
    return (
        HEAD + f'<link href="http://arxiv.org/api/query?{escape(query)}" rel="self" type="application/atom+xml"/>\n'
        f"<title>arXiv Query: {escape(query)}</title>\n<id>http://arxiv.org/api/fake</id>\n"
        "<updated>2025-11-25T00:00:00-05:00</updated>\n"
        f"<opensearch:totalResults>{total}</opensearch:totalResults>\n"
        f"<opensearch:startIndex>{start}</opensearch:startIndex>\n"
        f"<opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>\n" + "".join(entries) + "</feed>\n"
    )


def error_xml(message: str) -> str:
    return feed_xml(
        [
            f"<entry>\n<id>http://arxiv.org/api/errors#{escape(message)}</id>\n<title>Error</title>\n"
            f"<summary>{escape(message)}</summary>\n<updated>2025-11-25T00:00:00-05:00</updated>\n"
            '<link href="http://arxiv.org/api/errors" rel="alternate" type="text/html"/>\n'
            "<author><name>arXiv api core</name></author>\n</entry>\n"
        ],
        total=1,
        start=0,
        query="error",
    )


@dataclass
class FakeArxiv:
    """State and behaviour of the fake; `url` is the endpoint to give the client as ARXIV_API_URL."""

    papers: dict[str, dict[str, Any]] = field(default_factory=seed_papers)
    requests: list[dict[str, str]] = field(default_factory=list)
    failures: list[tuple[int, str | None, dict[str, str]]] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    clock: Callable[[], float] | None = None  # when set, `arrivals` gets its reading as each request arrives
    arrivals: list[float] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def add_paper(self, arxiv_id: str, title: str, **fields: Any) -> dict[str, Any]:
        """Serve one more paper under its versionless id as arXiv writes it (`hep-th/9901001`,
        `math/0309136`: no subject class); `fields` override the entry's other parts (see `entry_xml`)."""
        paper = {
            "id": arxiv_id,
            "title": title,
            "summary": f"The abstract of {title}.",
            "authors": ["A. Author"],
            "published": "2003-09-08",
            "primary": None,
            "version": "v1",
            **fields,
        }
        with self._lock:
            self.papers[arxiv_id] = paper
        return paper

    def fail_next(
        self, status: int = 503, *, times: int = 1, body: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        """The next `times` requests answer `status` with `body` (default a short text), e.g. 200 + junk, and
        `headers` (e.g. a Retry-After)."""
        with self._lock:
            self.failures.extend([(status, body, headers or {})] * times)

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        with self._lock:
            self.delays.extend([seconds] * times)

    def answer(self, params: dict[str, str]) -> tuple[int, str]:
        """Status and Atom body for one query, as arXiv answers it."""
        start, limit = int(params.get("start", 0)), int(params.get("max_results", 10))
        if params.get("id_list"):
            found = []
            for raw in params["id_list"].split(","):
                parsed = normalize_arxiv_id(raw)
                if parsed is None:
                    return 400, error_xml(f"incorrect id format for {raw}")
                if parsed[0] in self.papers:
                    found.append(self.papers[parsed[0]])
        else:
            category = params.get("search_query", "").removeprefix("cat:")
            found = [p for p in self.papers.values() if category in [p.get("primary"), *p.get("also", [])]]
            found.sort(key=lambda p: (p["published"], p["id"]), reverse=True)
        page = found[start : start + limit]
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return 200, feed_xml([entry_xml(p) for p in page], total=len(found), start=start, query=query)

    def start(self) -> FakeArxiv:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                params = dict(parse_qsl(urlparse(self.path).query))
                with fake._lock:
                    fake.requests.append(params)
                    if fake.clock is not None:
                        fake.arrivals.append(fake.clock())
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                    failure = fake.failures.pop(0) if fake.failures else None
                    delay = fake.delays.pop(0) if fake.delays else 0.0
                try:
                    if delay:
                        threading.Event().wait(delay)
                    status, body = (failure[0], failure[1] or "Service Unavailable") if failure else fake.answer(params)
                    headers = failure[2] if failure else {}
                finally:
                    # A request stops being in flight before its answer is written: once the client has the
                    # answer it may send the next request, and that must not be counted as a second one in flight.
                    with fake._lock:
                        fake.in_flight -= 1
                self.answer(status, body.encode(), "application/atom+xml; charset=utf-8", headers)

        self._server = serve_in_background(Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/query"
        return self

    def stop(self) -> None:
        stop_server(self._server)
