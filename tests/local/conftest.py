"""Fixtures of the embedded-runtime tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    """A private directory for PostgreSQL data, outside pytest's ``tmp_path``.

    As root, PostgreSQL runs as ``embedded_postgres``, which must traverse every parent of its data
    directory; every pytest session resets ``/tmp/pytest-of-root`` to 0700, so a concurrent session would
    break a server living below ``tmp_path``.
    """
    path = Path(tempfile.mkdtemp(prefix="rapport-local-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
