"""``run.json``: the addresses a running suite chose, so tools and tests can find it, and its pids, so a
stale run (launcher killed) can be cleaned up by ``python -m rapport_local stop``.

Written atomically while the suite starts (``"ready": false``), rewritten when every service answers
``/readyz`` (``"ready": true``) and removed when the launcher stops cleanly. A ``run.json`` whose launcher
pid is gone is stale.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from rapport_local.process import find_process

RUN_FILE = "run.json"
JWT_SECRET_FILE = "jwt_secret"


def run_file(data_dir: Path) -> Path:
    return data_dir / RUN_FILE


def read_run_file(data_dir: os.PathLike[str] | str) -> dict[str, Any] | None:
    """The content of ``<data_dir>/run.json``, or None when there is none (or it is unreadable)."""
    try:
        data: dict[str, Any] = json.loads(run_file(Path(data_dir)).read_text())
        return data
    except (OSError, ValueError):
        return None


def write_run_file(data_dir: Path, content: dict[str, Any]) -> Path:
    """Write ``run.json`` atomically (tmp file + rename): readers never see half a file."""
    path = run_file(data_dir)
    tmp = path.with_suffix(f".json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def launcher_alive(content: dict[str, Any]) -> bool:
    """True when the launcher that wrote ``content`` still runs (same pid and start time)."""
    identity = content.get("launcher") or {"pid": content.get("pid")}
    return identity.get("pid") is not None and find_process(identity) is not None


def jwt_secret(data_dir: Path) -> tuple[str, Path]:
    """The HS256 secret of this data directory, generated once (mode 0600) and reused by later runs."""
    path = data_dir / JWT_SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip(), path
