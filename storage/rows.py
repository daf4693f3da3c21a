"""Get-or-insert under a SAVEPOINT: the one way a row that several replicas may create at once is made.

Two replicas can both find no row and both INSERT it; the table's unique key lets one win and the other's
INSERT fail (on PostgreSQL it waits for the winner's transaction first). The SAVEPOINT confines that failure to
the insert, so the loser's transaction goes on, re-reads the winner's row and uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import Base

M = TypeVar("M", bound=Base)


def get_or_insert(
    session: Session,
    model: type[M],
    lookup: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
    *,
    lock: bool = False,
) -> tuple[M, bool]:
    """The `model` row whose columns equal `lookup` (a unique key), or a new one of `lookup` and `values`:
    (row, True when this call inserted it). `lock` reads it FOR UPDATE (PostgreSQL), so the caller may change it
    without another transaction changing it meanwhile. An IntegrityError that is not the key's race (no row to
    re-read, e.g. a missing foreign key) propagates."""
    found = _find(session, model, lookup, lock=lock)
    if found is not None:
        return found, False
    row = model(**lookup, **(values or {}))
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = _find(session, model, lookup, lock=lock)
        if found is None:
            raise
        return found, False
    return row, True


def _find(session: Session, model: type[M], lookup: Mapping[str, Any], *, lock: bool) -> M | None:
    # populate_existing: a row this session already holds is read again, so a race's winner is seen as it is.
    query = select(model).filter_by(**lookup).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()
