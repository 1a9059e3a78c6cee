"""The monitor's declared subscriptions: one per input topic, listing exactly the types its engine acts on."""

from __future__ import annotations

from importlib.metadata import entry_points

from rapport_alliance_monitor.consumers import SUBSCRIPTIONS
from rapport_alliance_monitor.domain.engine import HANDLED_TYPES
from rapport_alliance_monitor.settings import DEFAULT_TOPICS, AllianceMonitorSettings
from rapport_common.events.asyncapi import SUBSCRIPTIONS_GROUP


def test_one_subscription_per_input_topic_with_the_handled_types_of_that_topic() -> None:
    assert [sub.topic for sub in SUBSCRIPTIONS] == DEFAULT_TOPICS
    for sub in SUBSCRIPTIONS:
        assert sub.service == "alliance-monitor"
        assert sub.consumer == AllianceMonitorSettings.model_fields["consumer_group"].default
        assert sub.handles and all(cls.topic == sub.topic for cls in sub.handles)
        assert len(set(sub.handles)) == len(sub.handles)
    assert {cls for sub in SUBSCRIPTIONS for cls in sub.handles} == HANDLED_TYPES


def test_the_subscriptions_are_registered_for_the_asyncapi_document() -> None:
    (entry,) = [e for e in entry_points(group=SUBSCRIPTIONS_GROUP) if e.name == "alliance-monitor"]
    assert entry.load() is SUBSCRIPTIONS
