"""Start the embedded suite (``python -m rapport_local run``) as a subprocess and wait for its ``run.json``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class Suite:
    """The launcher process; ``stop()`` sends SIGTERM (its clean shutdown) and waits."""

    def __init__(self, *, duration_s: float, base_port: int, env: dict[str, str] | None = None) -> None:
        # not under /tmp/pytest-of-*: PostgreSQL runs as another user and needs o+rx on the parents
        self.data_dir = Path(tempfile.mkdtemp(prefix="rapport-bench-"))
        self.log_path = self.data_dir.with_suffix(".log")
        self.duration_s = duration_s
        self.base_port = base_port
        self.env = {**os.environ, "NO_COLOR": "1", **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout_s: float = 240.0) -> dict[str, Any]:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rapport_local",
                "run",
                "--data-dir",
                str(self.data_dir),
                "--duration",
                str(int(self.duration_s)),
                "--base-port",
                str(self.base_port),
                "--log-level",
                "WARNING",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + ready_timeout_s
        run_json = self.data_dir / "run.json"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"launcher exited with {self.process.returncode}; see {self.log_path}")
            try:
                content: dict[str, Any] = json.loads(run_json.read_text())
                if content.get("ready"):
                    return content
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"suite not ready after {ready_timeout_s:.0f} s; see {self.log_path}")

    @property
    def run_json(self) -> Path:
        return self.data_dir / "run.json"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
