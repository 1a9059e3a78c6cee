"""Not collected on its own (no ``test_`` prefix): ``test_infra_selection.py`` runs it in a pytest
subprocess with ``KAFKA_BOOTSTRAP_SERVERS``/``DATABASE_URL`` set, to check the explicit-settings mode."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any


async def test_explicit_settings_are_used(
    infra: Any, make_database: Any, make_topics: Any, kafka_idempotence: bool
) -> None:
    assert infra.mode == "env"
    assert infra.kafka_bootstrap_servers == os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    assert kafka_idempotence is (os.environ["RAPPORT_EXPECT_IDEMPOTENCE"] == "1")  # probed, not assumed
    url = await make_database("envmode")
    [topic] = await make_topics(["envmode"], partitions=2)
    out = Path(os.environ["RAPPORT_ENVMODE_OUT"])
    await asyncio.to_thread(out.write_text, json.dumps({"database_url": url, "topic": topic}))
