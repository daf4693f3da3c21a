"""The benchmarks stay runnable: each script in bench/ imports (its imports follow the code as it moves)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_the_benchmark_script_imports(script: str) -> None:
    spec = importlib.util.spec_from_file_location(f"bench_{script[:-3]}", BENCH / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)  # scripts run only under `if __name__ == "__main__"`
    finally:
        del sys.modules[spec.name]
    if '__name__ == "__main__"' in (BENCH / script).read_text():
        assert callable(getattr(module, "main", None)), f"bench/{script} has no main()"
