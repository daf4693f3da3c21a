"""A loopback Slack: a Web API server the bot's real WebClient talks to, and a sender of signed requests.

`FakeSlack` speaks the Web API methods paperbot calls (JSON and form bodies, Bearer tokens), records every call,
keeps the messages it was sent (so `conversations.replies`, `reactions.get` and `chat.getPermalink` answer with
them), can fail the next N calls of a method (HTTP 429 + Retry-After, 5xx, or a Slack error such as
`not_in_channel`), and has a `response_url` sink for slash-command replies. Files arrive as slack_sdk's
`files_upload_v2` sends them: `files.getUploadURLExternal` hands out an upload URL on this server, the bytes are
POSTed there, and `files.completeUploadExternal` shares them into a channel (`shared_files`). `chat.unfurl` calls it
accepts are kept, their `unfurls` parsed, in `unfurled`.

`SlackSender` signs requests exactly as Slack does (v0 HMAC-SHA256 over `v0:{timestamp}:{body}`) and posts slash
commands, events and block actions into the bot's real HTTP endpoint.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any, Self, TypeVar
from urllib.parse import parse_qsl, urlencode, urlparse

import httpx
from slack_sdk.signature import SignatureVerifier

from tests.fakes import QuietHandler, serve_in_background, stop_server

T = TypeVar("T")

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-test-token"
SIGNING_SECRET = "test-signing-secret"
BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0001"
# The people tests speak as: the members of a channel the fake Slack was told nothing about (conversations.members).
EVERYONE = frozenset(f"U{n:04d}" for n in range(1, 10)) | {BOT_USER_ID}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None
    content_type: str
    at: float = 0.0  # time.monotonic() when the request arrived (same clock as the bot's in-process pacing)


@dataclass
class Failure:
    status: int
    times: int
    retry_after: int | None = None
    error: str | None = None
    commit: bool = False


@dataclass
class Outage:
    """Every call (or every call of `methods`) fails with `status` while `calls` remain or until `until`."""

    status: int
    calls: int | None
    until: float | None  # time.monotonic() deadline
    retry_after: int | None
    methods: frozenset[str] | None

    def covers(self, method: str, now: float) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        return (self.calls is None or self.calls > 0) and (self.until is None or now < self.until)


@dataclass
class File:
    """An uploaded file: `content` once its bytes arrived, `channel` once completeUploadExternal shared it."""

    id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    channel: str | None = None
    initial_comment: str | None = None


@dataclass
class FakeSlack:
    """State and behaviour of the fake Web API; `url` is the base to give the bot as SLACK_API_URL."""

    tokens: set[str] = field(default_factory=lambda: {BOT_TOKEN, APP_TOKEN})
    calls: list[Call] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    files: dict[str, File] = field(default_factory=dict)
    unfurled: list[dict[str, Any]] = field(default_factory=list)  # every chat.unfurl accepted, its `unfurls` parsed
    # Channels conversations.info calls private (every other channel it calls public); `unknown` ones it refuses.
    private_channels: set[str] = field(default_factory=set)
    unknown_channels: set[str] = field(default_factory=set)
    # Who is in each channel (conversations.members); a channel not listed has EVERYONE, the people tests speak as.
    channel_members: dict[str, set[str]] = field(default_factory=dict)
    admins: set[str] = field(default_factory=set)  # users.info says is_admin for these
    # Image URLs Slack cannot download: a message showing one is refused whole, as Slack refuses it.
    unfetchable_images: set[str] = field(default_factory=set)
    owners: set[str] = field(default_factory=set)  # and is_owner for these
    url: str = ""
    # Seconds of the first message's ts; tests that bound conversations.history by real time set it to now.
    ts_base: int = 1764150000
    socket_url: str = ""  # what apps.connections.open hands out (tests/fakes/socket_mode.py)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: ThreadingHTTPServer | None = None
    outages: list[Outage] = field(default_factory=list)
    # OAuth installs: the workspace each extra bot token belongs to, and the codes oauth.v2.access exchanges.
    token_teams: dict[str, str] = field(default_factory=dict)
    oauth_codes: dict[str, dict[str, str]] = field(default_factory=dict)

    # ---- control -------------------------------------------------------------------------------------------
    def installable(self, code: str, *, team_id: str, token: str, team_name: str = "Other Team") -> None:
        """What Slack would hand back for `code` after someone approved the install in workspace `team_id`."""
        with self._lock:
            self.oauth_codes[code] = {"team_id": team_id, "token": token, "team_name": team_name}

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: int | None = 1,
        error: str | None = None,
        commit: bool = False,
    ) -> None:
        """Make the next `times` calls of `method` fail: HTTP `status` (429 carries Retry-After), or, with
        `error`, an HTTP 200 `{"ok": false, "error": error}` as Slack answers e.g. `not_in_channel`. With
        `commit`, the call takes effect first (e.g. the message is posted) and only the answer fails, as when
        Slack accepts a message and then its answer is lost to a 5xx."""
        with self._lock:
            self.failures.setdefault(method, []).append(Failure(status, times, retry_after, error, commit))

    def fail_all(
        self,
        *,
        status: int = 429,
        calls: int | None = None,
        seconds: float | None = None,
        retry_after: int | None = 1,
        methods: set[str] | None = None,
    ) -> Outage:
        """Make every Web API call (or only those of `methods`) fail with HTTP `status` (429 carries
        Retry-After: `retry_after`) for the next `calls` calls and/or for `seconds` from now, whichever ends
        first; with neither, until `end_outages()`. Outages stack: the oldest that covers a call answers it."""
        until = None if seconds is None else time.monotonic() + seconds
        outage = Outage(status, calls, until, retry_after, None if methods is None else frozenset(methods))
        with self._lock:
            self.outages.append(outage)
        return outage

    def end_outages(self) -> None:
        """Stop every `fail_all` outage now."""
        with self._lock:
            self.outages.clear()

    def _outage_answer(self, method: str) -> tuple[int, dict[str, str], Any] | None:
        """The failure a `fail_all` outage gives this call, if one covers it (called under the lock)."""
        now = time.monotonic()
        self.outages[:] = [o for o in self.outages if (o.calls is None or o.calls > 0) and (o.until or now + 1) > now]
        outage = next((o for o in self.outages if o.covers(method, now)), None)
        if outage is None:
            return None
        if outage.calls is not None:
            outage.calls -= 1
        limited = outage.status == 429
        headers = {"Retry-After": str(outage.retry_after)} if limited and outage.retry_after is not None else {}
        return outage.status, headers, {"ok": False, "error": "ratelimited" if limited else "fatal_error"}

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages the bot posted (chat.postMessage), oldest first, optionally in one channel."""
        with self._lock:
            if channel is not None:
                return list(self.messages.get(channel, []))
            return sorted((m for ms in self.messages.values() for m in ms), key=lambda m: float(m["ts"]))

    def shared_files(self, channel: str | None = None) -> list[File]:
        """Files shared into a channel (files.completeUploadExternal), in upload order, optionally in one."""
        with self._lock:
            return [f for f in self.files.values() if f.channel and channel in (None, f.channel)]

    def response_url(self, key: str | None = None) -> str:
        return f"{self.url.removesuffix('/api/')}/response/{key or uuid.uuid4().hex}"

    def wait_for(self, predicate: Callable[[], T | None], timeout: float = 10.0) -> T:
        """Poll until `predicate()` is truthy (listeners run on Bolt's thread pool after the ack)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"condition not met within {timeout}s; calls: {[c.method for c in self.calls]}")

    # ---- what people do in Slack while the bot may not hear it (reconciliation reads it back) ----------------
    def react(self, channel: str, ts: str, user: str, name: str) -> None:
        """`user` adds emoji `name` to a message (no event is sent: the bot may have been down)."""
        with self._lock:
            message = self._find(channel, ts)
            assert message is not None, f"no message {ts} in {channel}"
            reactions = message.setdefault("reactions", [])
            entry = next((r for r in reactions if r["name"] == name), None)
            if entry is None:
                entry = {"name": name, "count": 0, "users": []}
                reactions.append(entry)
            if user not in entry["users"]:
                entry["users"].append(user)
                entry["count"] = len(entry["users"])

    def unreact(self, channel: str, ts: str, user: str, name: str) -> None:
        """`user` takes emoji `name` off a message."""
        with self._lock:
            message = self._find(channel, ts)
            assert message is not None, f"no message {ts} in {channel}"
            for entry in message.get("reactions", []):
                if entry["name"] == name and user in entry["users"]:
                    entry["users"].remove(user)
                    entry["count"] = len(entry["users"])
            message["reactions"] = [r for r in message.get("reactions", []) if r["users"]]

    def reply(self, channel: str, thread_ts: str, user: str, text: str, **extra: Any) -> str:
        """A person's reply in a thread (no event sent); its ts."""
        with self._lock:
            ts = self.next_ts()
            message = {"type": "message", "user": user, "text": text, "ts": ts, "thread_ts": thread_ts, **extra}
            self.messages.setdefault(channel, []).append(message)
            return ts

    def edit(self, channel: str, ts: str, text: str) -> str:
        """A message edited by its author; the edit's ts."""
        with self._lock:
            message = self._find(channel, ts)
            assert message is not None, f"no message {ts} in {channel}"
            edited = self.next_ts()
            message.update(text=text, edited={"user": message.get("user"), "ts": edited})
            return edited

    def delete(self, channel: str, ts: str) -> None:
        """A message deleted (it is gone from conversations.replies)."""
        with self._lock:
            self.messages[channel] = [m for m in self.messages.get(channel, []) if m["ts"] != ts]

    def add_message(self, channel: str, ts: str, **fields: Any) -> None:
        """A message the test places at a given ts (e.g. a paper post recorded straight in the database)."""
        with self._lock:
            message = {"type": "message", "ts": ts, "text": "", "reactions": [], **fields}
            self.messages.setdefault(channel, []).append(message)

    # ---- Web API ---------------------------------------------------------------------------------------------
    def next_ts(self) -> str:
        n = next(self._ts)
        return f"{self.ts_base + n}.{n:06d}"

    def handle(self, method: str, params: dict[str, Any], token: str | None) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            if self.outages and (blanket := self._outage_answer(method)) is not None:
                return blanket
            queue = self.failures.get(method)
            if queue:
                failure = queue[0]
                failure.times -= 1
                if failure.times <= 0:
                    queue.pop(0)
                if failure.commit and token in self.tokens:
                    handler = getattr(self, "api_" + method.replace(".", "_"), None)
                    if handler is not None:
                        handler(params)
                if failure.error:
                    return 200, {}, {"ok": False, "error": failure.error}
                limited = failure.status == 429
                headers = {"Retry-After": str(failure.retry_after)} if limited and failure.retry_after else {}
                return failure.status, headers, {"ok": False, "error": "ratelimited" if limited else "fatal_error"}
        return self._answer(method, params, token)

    def _answer(self, method: str, params: dict[str, Any], token: str | None) -> tuple[int, dict[str, str], Any]:
        if method == "oauth.v2.access":  # authenticated by the client id and secret, not a token
            with self._lock:
                return 200, {}, self._oauth_access(params)
        if token not in self.tokens:
            return 200, {}, {"ok": False, "error": "invalid_auth" if token else "not_authed"}
        if method == "auth.test":
            return 200, {}, self.api_auth_test({**params, "_team": self.token_teams.get(token or "", TEAM_ID)})
        handler = getattr(self, "api_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {}, {"ok": False, "error": "unknown_method"}
        with self._lock:
            return 200, {}, handler(params)

    def _oauth_access(self, p: dict[str, Any]) -> dict[str, Any]:
        grant = self.oauth_codes.pop(str(p.get("code")), None)
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        self.tokens.add(grant["token"])
        self.token_teams[grant["token"]] = grant["team_id"]
        return {
            "ok": True,
            "app_id": "A0PAPERBOT",
            "authed_user": {"id": "U0INSTALLER"},
            "scope": "commands,chat:write",
            "token_type": "bot",
            "access_token": grant["token"],
            "bot_user_id": BOT_USER_ID,
            "team": {"id": grant["team_id"], "name": grant["team_name"]},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def api_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake Team",
            "user": "paperbot",
            "team_id": p.get("_team", TEAM_ID),
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _blocks(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        blocks = p.get("blocks")
        return json.loads(blocks) if isinstance(blocks, str) else (blocks or [])

    def api_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = p.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("text") and not p.get("blocks"):
            return {"ok": False, "error": "no_text"}
        for i, block in enumerate(self._blocks(p)):
            if (block.get("accessory") or {}).get("image_url") in self.unfetchable_images:
                pointer = f"[json-pointer:/blocks/{i}/accessory/image_url]"
                return {
                    "ok": False,
                    "error": "invalid_blocks",
                    "response_metadata": {"messages": [f"[ERROR] downloading image failed {pointer}"]},
                }
        ts = self.next_ts()
        message = {
            "type": "message",
            "text": p.get("text", ""),
            "ts": ts,
            "bot_id": BOT_ID,
            "user": BOT_USER_ID,
            "blocks": self._blocks(p),
            "channel": channel,
            "reactions": [],
        }
        if p.get("thread_ts"):
            message["thread_ts"] = p["thread_ts"]
        if p.get("metadata"):
            message["metadata"] = json.loads(p["metadata"]) if isinstance(p["metadata"], str) else p["metadata"]
        self.messages.setdefault(channel, []).append(message)
        shown = {k: v for k, v in message.items() if k != "channel"}
        return {"ok": True, "channel": channel, "ts": ts, "message": shown}

    def _find(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    def api_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        message = self._find(p.get("channel", ""), p.get("ts", ""))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message.update(text=p.get("text", message["text"]), blocks=self._blocks(p) or message["blocks"])
        return {"ok": True, "channel": p["channel"], "ts": p["ts"], "text": message["text"]}

    def api_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self.next_ts()}

    def api_chat_getPermalink(self, p: dict[str, Any]) -> dict[str, Any]:
        ts = str(p.get("message_ts", ""))
        return {
            "ok": True,
            "channel": p.get("channel"),
            "permalink": f"https://fake.slack.test/archives/{p.get('channel')}/p{ts.replace('.', '')}",
        }

    def api_conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = str(p.get("channel", ""))
        if channel in self.unknown_channels:
            return {"ok": False, "error": "channel_not_found"}
        private = channel in self.private_channels
        return {"ok": True, "channel": {"id": channel, "is_private": private, "is_channel": not private}}

    def api_conversations_members(self, p: dict[str, Any]) -> dict[str, Any]:
        """A channel's member ids, `limit` a page (default 100), paged by `cursor`."""
        channel = str(p.get("channel", ""))
        if channel in self.unknown_channels:
            return {"ok": False, "error": "channel_not_found"}
        members = sorted(self.channel_members.get(channel, EVERYONE))
        start, limit = int(p.get("cursor") or 0), int(p.get("limit") or 100)
        more = start + limit < len(members)
        return {
            "ok": True,
            "members": members[start : start + limit],
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def api_chat_unfurl(self, p: dict[str, Any]) -> dict[str, Any]:
        """Unfurls for a posted message (`channel` + `ts`) or one still in the composer (`unfurl_id` + `source`),
        kept in `unfurled`; `unfurls` maps each URL to its blocks, as JSON or (form bodies) a JSON string."""
        by_message = bool(p.get("channel") and p.get("ts"))
        if not by_message and not (p.get("unfurl_id") and p.get("source")):
            return {"ok": False, "error": "invalid_arguments"}
        unfurls = json.loads(p["unfurls"]) if isinstance(p.get("unfurls"), str) else p.get("unfurls")
        if not isinstance(unfurls, dict) or not unfurls:
            return {"ok": False, "error": "invalid_unfurls"}
        self.unfurled.append({**p, "unfurls": unfurls})
        return {"ok": True}

    def api_conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, ts = p.get("channel", ""), p.get("ts", "")
        parent = self._find(channel, ts)
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        replies = [m for m in self.messages.get(channel, []) if m.get("thread_ts") == ts and m["ts"] != ts]
        # Paged like Slack: `limit` replies a page after `cursor`, the parent first on every page.
        start, limit = int(p.get("cursor") or 0), int(p.get("limit") or 1000)
        more = start + limit < len(replies)
        return {
            "ok": True,
            "messages": [parent, *replies[start : start + limit]],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def api_conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages newest first within `oldest`..`latest`, `limit` a page, paged by `cursor`."""
        channel = p.get("channel", "")
        oldest, latest = float(p.get("oldest") or 0), float(p.get("latest") or "inf")
        inclusive = str(p.get("inclusive", "")).lower() in ("1", "true")
        top = [
            m
            for m in reversed(self.messages.get(channel, []))
            if ("thread_ts" not in m or m["thread_ts"] == m["ts"])
            and (oldest <= float(m["ts"]) <= latest if inclusive else oldest < float(m["ts"]) < latest)
        ]
        start, limit = int(p.get("cursor") or 0), int(p.get("limit") or 100)
        more = start + limit < len(top)
        return {
            "ok": True,
            "messages": top[start : start + limit],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def api_reactions_get(self, p: dict[str, Any]) -> dict[str, Any]:
        message = self._find(p.get("channel", ""), p.get("timestamp", ""))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "type": "message", "channel": p["channel"], "message": message}

    def api_reactions_add(self, p: dict[str, Any]) -> dict[str, Any]:
        message = self._find(p.get("channel", ""), p.get("timestamp", ""))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message["reactions"].append({"name": p.get("name"), "count": 1, "users": [BOT_USER_ID]})
        return {"ok": True}

    def api_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        """Step 1 of an upload: a file id and the URL to POST its bytes to (Slack wants both arguments)."""
        if not p.get("filename") or not str(p.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file = File(id="F" + uuid.uuid4().hex[:10].upper(), filename=p["filename"], length=int(p["length"]))
        self.files[file.id] = file
        return {"ok": True, "file_id": file.id, "upload_url": f"{self.url.removesuffix('/api/')}/upload/{file.id}"}

    def receive_upload(self, file_id: str, data: bytes) -> tuple[int, str]:
        """Step 2: the bytes POSTed to the upload URL (answered in plain text, as files.slack.com does)."""
        with self._lock:
            file = self.files.get(file_id)
            if file is None:
                return 404, "not found"
            file.content = data
            return 200, f"OK - {len(data)}"

    def api_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        """Step 3: share uploaded files into `channel_id` (without one they stay private to the app)."""
        wanted = json.loads(p["files"]) if isinstance(p.get("files"), str) else p.get("files") or []
        files = [self.files.get(f.get("id", "")) for f in wanted]
        if not files or any(f is None or f.content is None for f in files):
            return {"ok": False, "error": "file_not_found"}
        shown = []
        for file, asked in zip(files, wanted, strict=True):
            assert file is not None
            file.title, file.channel = asked.get("title") or file.filename, p.get("channel_id")
            file.initial_comment = p.get("initial_comment")
            shown.append({"id": file.id, "name": file.filename, "title": file.title, "size": len(file.content or b"")})
        return {"ok": True, "files": shown}

    def api_conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        """A DM with one person: its channel id is D + their user id."""
        users = str(p.get("users", ""))
        if not users or "," in users:
            return {"ok": False, "error": "users_list_not_supplied"}
        return {"ok": True, "channel": {"id": "D" + users.removeprefix("U")}}

    def api_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = p.get("user", "")
        profile = self.users.get(user, {"real_name": f"User {user}", "display_name": user.lower()})
        return {
            "ok": True,
            "user": {
                "id": user,
                "name": user.lower(),
                "is_bot": False,
                "tz": "UTC",
                "profile": profile,
                "is_admin": user in self.admins or user in self.owners,  # as Slack: an owner is an admin too
                "is_owner": user in self.owners,
            },
        }

    def api_apps_connections_open(self, p: dict[str, Any]) -> dict[str, Any]:
        if not self.socket_url:
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": self.socket_url}

    def api_views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        view = p.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        return {"ok": True, "view": {"id": "V" + uuid.uuid4().hex[:8].upper(), **(view or {})}}

    # ---- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> Self:
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                path = urlparse(self.path)
                if path.path.startswith("/upload/"):
                    status, text = fake.receive_upload(path.path.rsplit("/", 1)[1], data)
                    return self.answer(status, text.encode(), "text/plain; charset=utf-8")
                raw = data.decode()
                ctype = self.headers.get("Content-Type", "")
                if path.path.startswith("/response/"):
                    with fake._lock:
                        fake.responses.append({"key": path.path.rsplit("/", 1)[1], **json.loads(raw or "{}")})
                    return self._send(200, {}, {"ok": True})
                params: dict[str, Any] = dict(parse_qsl(path.query))
                if "json" in ctype:
                    params.update(json.loads(raw or "{}"))
                else:
                    params.update(dict(parse_qsl(raw)))
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.get("token")
                method = path.path.removeprefix("/api/")
                with fake._lock:
                    fake.calls.append(Call(method, params, token, ctype, time.monotonic()))
                status, headers, body = fake.handle(method, params, token)
                self._send(status, headers, body)

            do_GET = do_POST

            def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
                self.answer(status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)

        self._server = serve_in_background(Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/"
        return self

    def stop(self) -> None:
        stop_server(self._server)


class SlackSender:
    """Posts signed requests into the bot's real HTTP endpoint, as Slack's servers do."""

    def __init__(self, endpoint: str, signing_secret: str = SIGNING_SECRET, team_id: str = TEAM_ID) -> None:
        self.endpoint = endpoint
        self.verifier = SignatureVerifier(signing_secret)
        self.team_id = team_id
        self.client = httpx.Client(timeout=15)

    def signed_headers(self, body: str, *, timestamp: int | None = None, content_type: str) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.verifier.generate_signature(timestamp=ts, body=body)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature or "", "Content-Type": content_type}

    def post(
        self, body: str, content_type: str, *, headers: dict[str, str] | None = None, timestamp: int | None = None
    ) -> httpx.Response:
        all_headers = self.signed_headers(body, timestamp=timestamp, content_type=content_type)
        all_headers.update(headers or {})
        return self.client.post(self.endpoint, content=body.encode(), headers=all_headers)

    def command(
        self,
        text: str,
        *,
        user: str = "U0001",
        channel: str = "C0001",
        command: str = "/papers",
        response_url: str = "",
        **extra: str,
    ) -> httpx.Response:
        """A slash command exactly as Slack sends it (form-encoded)."""
        form = {
            "token": "legacy",
            "team_id": self.team_id,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "papers",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "response_url": response_url,
            "trigger_id": "1.2.3",
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            **extra,
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded")

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> httpx.Response:
        """An Events API envelope; `retry_num` adds Slack's retry headers (the same event_id again)."""
        envelope = {
            "token": "legacy",
            "team_id": self.team_id,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event": event,
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "is_ext_shared_channel": False,
            "authorizations": [
                {
                    "team_id": self.team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "enterprise_id": None,
                    "is_enterprise_install": False,
                }
            ],
        }
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason} if retry_num else None
        return self.post(json.dumps(envelope), "application/json", headers=headers)

    def action(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "U0001",
        channel: str = "C0001",
        message_ts: str = "1764150001.000001",
        response_url: str = "",
    ) -> httpx.Response:
        """A block_actions interaction (form field `payload` holding JSON)."""
        payload = {
            "type": "block_actions",
            "user": {"id": user, "team_id": self.team_id},
            "team": {"id": self.team_id, "domain": "fake"},
            "api_app_id": "A0001",
            "channel": {"id": channel},
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "response_url": response_url,
            "trigger_id": "1.2.3",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "b",
                    "value": value,
                    "type": "button",
                    "action_ts": str(time.time()),
                }
            ],
        }
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def close(self) -> None:
        self.client.close()
