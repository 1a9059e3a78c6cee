"""Pure parts of the Apache Kafka launcher."""

from __future__ import annotations

import base64

from rapport_local.kafka import new_cluster_id


def test_cluster_ids_are_22_url_safe_characters_and_never_look_like_an_option() -> None:
    """Regression: one id in 64 starts with "-", which the storage tool read as an option (a CI failure)."""
    ids = [new_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)
