"""`paperbot serve`: listen, build the Bolt app, start the digest scheduler and serve Slack until stopped."""

from __future__ import annotations

import logging
from typing import Any

import click

from bot.cli.common import Failure, friendly, open_database, settings_from
from bot.cli.params import check_port
from storage.db import make_sessions

log = logging.getLogger("paperbot")


def start_bot(deps: Any, *, socket_mode: bool, scheduler: bool) -> Any:
    """Build the Bolt app and start the digest scheduler; Slack unreachable or refusing the token is one line."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackClientError

    from bot.app import build_app
    from bot.digest import slack_problem

    try:
        app = build_app(deps, socket_mode=socket_mode)  # Bolt calls auth.test here
        if scheduler:
            from bot.scheduler import start_scheduler

            start_scheduler(deps=deps, client=app.client)
    except (SlackClientError, BoltError, OSError) as exc:
        raise Failure(slack_problem(deps.settings, exc)) from None
    return app


@click.command()
@click.option(
    "--http", "http_mode", is_flag=True, help="Serve HTTP mode (POST /slack/events) even if SLACK_APP_TOKEN is set."
)
@click.option("--host", default="0.0.0.0", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    default=3000,
    show_default=True,
    type=int,
    callback=check_port,
    help="Port to listen on (/healthz in Socket Mode too).",
)
@click.option("--no-scheduler", is_flag=True, help="Do not run the digest scheduler in this process.")
@click.pass_context
@friendly
def serve(ctx: click.Context, http_mode: bool, host: str, port: int, no_scheduler: bool) -> None:
    """Run the bot: Socket Mode when SLACK_APP_TOKEN is set, HTTP mode with --http."""
    from bot.deps import Deps
    from bot.server import HttpServer, SplitDispatcher, make_wsgi, socket_mode_handler

    settings = settings_from(ctx)
    socket_mode = bool(settings.slack_app_token) and not http_mode
    if not socket_mode and not http_mode:
        raise Failure("SLACK_APP_TOKEN is not set: set it for Socket Mode, or pass --http to serve HTTP mode")
    if settings.oauth_enabled and socket_mode:
        raise Failure(
            "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET install paperbot in many workspaces through /slack/install, "
            "which needs HTTP mode: pass --http (or unset them to serve the one workspace of SLACK_BOT_TOKEN)"
        )
    if not settings.oauth_enabled:
        settings.secret("SLACK_BOT_TOKEN")
    settings.secret("SLACK_APP_TOKEN" if socket_mode else "SLACK_SIGNING_SECRET")
    engine = open_database(settings)
    sockets = listen_or_fail(host, port)  # before Slack is asked anything and the scheduler starts
    metrics_sockets = metrics_listen(host, port, settings.metrics_port, sockets)
    deps = Deps(settings=settings, engine=engine, sessions=make_sessions(engine))
    deps.search  # noqa: B018 - starts loading the search index in the background now, not at the first search
    try:
        app = start_bot(deps, socket_mode=socket_mode, scheduler=not no_scheduler)
    except Failure:  # Slack refused the token or cannot be reached: nothing started stays running
        for sock in sockets + metrics_sockets:
            sock.close()
        deps.close()
        raise
    from bot.inbox import Workers
    from bot.scheduler import install_stop_handlers

    workers = Workers(deps).start()  # apply the events stored in the inbox (left by an earlier process too)
    # SIGTERM/SIGINT: the inbox takes no new rows, digests stop between posts and release their claims; one log
    # line; the process is gone within STOP_WITHIN seconds even when the database does not answer.
    install_stop_handlers(workers.request_stop)
    multiproc = settings.prometheus_multiproc_dir
    try:
        if metrics_sockets:
            small = SplitDispatcher(event_threads=1, people_threads=2)
            wsgi = make_wsgi(None, engine, multiproc_dir=multiproc)
            metrics = HttpServer(wsgi, host, settings.metrics_port, sockets=metrics_sockets, dispatcher=small).start()
            log.info("metrics on %s/metrics", metrics.url)
        if socket_mode:
            health_only = SplitDispatcher(event_threads=1, people_threads=2)
            wsgi = make_wsgi(None, engine, metrics=settings.metrics_port == port, multiproc_dir=multiproc)
            health = HttpServer(wsgi, host, port, sockets=sockets, dispatcher=health_only).start()
            log.info("Socket Mode; health check on %s/healthz", health.url)
            socket_mode_handler(app, settings.secret("SLACK_APP_TOKEN")).start()
        else:
            HttpServer(make_wsgi(app, engine, multiproc_dir=multiproc), host, port, sockets=sockets).run()
    finally:
        workers.stop()  # rows in flight finish or are handed back, within a bound
        deps.close()


def listen_or_fail(host: str, port: int) -> list[Any]:
    """The listening sockets of `serve`, or one line saying why the address cannot be had."""
    from bot.server import ListenError, listen_sockets

    try:
        return listen_sockets(host, port)
    except ListenError as exc:
        raise Failure(str(exc)) from None


def metrics_listen(host: str, port: int, metrics_port: int, sockets: list[Any]) -> list[Any]:
    """The sockets of PAPERBOT_METRICS_PORT's own server (none when it is 0 or --port itself, which serves
    /metrics in HTTP mode); closes `sockets` first when the port cannot be had."""
    if not metrics_port or metrics_port == port:
        return []
    try:
        return listen_or_fail(host, metrics_port)
    except Failure as exc:
        for sock in sockets:
            sock.close()
        raise Failure(f"PAPERBOT_METRICS_PORT: {exc}".replace("another --port", "another port")) from None
