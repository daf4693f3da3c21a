"""deploy/paperbot.service: the systemd unit migrates, then serves on the port the app listens on, and restarts."""

from __future__ import annotations

import configparser
import shlex

from tests.deploy.files import DEPLOY, serve_default_port


def test_systemd_unit_migrates_then_serves_and_restarts_on_failure() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((DEPLOY / "paperbot.service").read_text(encoding="utf-8"))
    service = unit["Service"]
    assert shlex.split(service["ExecStartPre"])[1:] == ["db", "upgrade"]
    assert shlex.split(service["ExecStartPre"])[0].endswith("/paperbot")
    start = shlex.split(service["ExecStart"])
    assert start[1] == "serve" and start[start.index("--port") + 1] == str(serve_default_port())
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"].startswith("/")
    assert service.get("DynamicUser") == "yes" or service.get("User") == "paperbot"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
