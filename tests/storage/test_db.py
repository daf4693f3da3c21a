"""Transactions mean the same on both databases: a rolled-back transaction leaves nothing behind."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Workspace


def test_rollback_undoes_work_done_inside_a_released_savepoint(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), sessions.begin() as session:
        with session.begin_nested():
            session.add(Workspace(team_id="T1"))
        raise RuntimeError("the caller changes its mind after the savepoint was released")
    with sessions.begin() as session:
        assert session.scalars(select(Workspace)).all() == []


def test_a_savepoint_rollback_keeps_the_rest_of_the_transaction(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(Workspace(team_id="T1"))
        session.flush()
        nested = session.begin_nested()
        session.add(Workspace(team_id="T2"))
        session.flush()
        nested.rollback()
    with sessions.begin() as session:
        assert [w.team_id for w in session.scalars(select(Workspace))] == ["T1"]
