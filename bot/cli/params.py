"""Click pieces the `paperbot` commands share: one way to write a date, one range for a port, and a quiet end when
the reader of standard output goes away."""

from __future__ import annotations

import calendar
import os
import re
import sys
from datetime import date
from typing import Any, NoReturn

import click

from bot.cli.common import Failure

# Ports a server can ask for: 0 would make the system pick one at random, which nobody can point Slack at.
PORTS = range(1, 65536)


def check_port(ctx: click.Context, param: click.Parameter, value: int) -> int:
    """A port a server can listen on, or one line and exit 1 naming it (like every other bad setting)."""
    if value not in PORTS:
        raise Failure(f"--port {value} is not a port: use a number from 1 to 65535 (default 3000)")
    return value


_SHAPE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class DateParam(click.ParamType[date, object]):
    """A calendar day written `YYYY-MM-DD`, converted to a `datetime.date`; anything else is a usage error that
    says what is wrong with it (`2026-13-01 is not a real date (month 13); use YYYY-MM-DD`)."""

    name = "date"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):  # a default, or a value already converted
            return value
        text = str(value).strip()
        match = _SHAPE.fullmatch(text)
        if not match:
            self.fail(f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-24", param, ctx)
        year, month, day = (int(part) for part in match.groups())
        if not 1 <= month <= 12:
            self.fail(f"{text} is not a real date (month {month}); use YYYY-MM-DD", param, ctx)
        days = calendar.monthrange(year, month)[1] if year else 31
        if not year or not 1 <= day <= days:
            why = "year 0" if not year else f"{calendar.month_name[month]} {year} has {days} days"
            self.fail(f"{text} is not a real date ({why}); use YYYY-MM-DD", param, ctx)
        return date(year, month, day)


DATE = DateParam()


def reader_went_away() -> NoReturn:
    """`paperbot export | head -1`: the reader has what it wanted, so stop quietly with status 0, as `git log |
    head` does. Python flushes stdout again at exit; pointing it at devnull keeps that from failing too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


class QuietPipeGroup(click.Group):
    """The `paperbot` group: a command whose stdout reader went away ends with reader_went_away().

    Left to click, a broken pipe is a silent exit 1, which makes `set -o pipefail` scripts fail.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:  # `paperbot --help` and `--version` print while the arguments are parsed
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            reader_went_away()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            reader_went_away()


class WeekParam(click.ParamType[date, object]):
    """An ISO week written `YYYY-Www` (e.g. 2026-W48), converted to its Monday; anything else is a usage error
    that says what is wrong with it."""

    name = "week"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "YYYY-Www"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        from bot.recap import parse_week  # here: `paperbot --help` should not load Slack's SDK

        try:
            return parse_week(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


WEEK = WeekParam()
