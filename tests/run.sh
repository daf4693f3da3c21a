#!/usr/bin/env bash
# Set up and run the whole test suite: lint, type-check, then pytest on SQLite and PostgreSQL.
# Usage: bash tests/run.sh [extra pytest args]   (creates .venv on first use; PostgreSQL must be reachable)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PYTHON" -m venv .venv
fi
echo "== installing paperbot with its test extra"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"

export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
# The PostgreSQL half never skips: if the server is down and this machine has a local cluster, start it;
# if it still cannot be reached, every PostgreSQL test fails with a message saying so.
if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "== starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi

echo "== ruff"
.venv/bin/ruff check bot handlers storage tests bench
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest (SQLite and PostgreSQL, and the docstring examples)"
.venv/bin/python -m pytest -q -n 2 "$@"
