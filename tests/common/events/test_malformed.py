"""Malformed records are rejected with the reason code and field path the dead-letter headers carry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from rapport_common.events import CONTENT_TYPE, EventDecodeError, decode_event, encode_event
from rapport_common.events.codec import MAX_RECORD_BYTES
from rapport_common.events.examples import EXAMPLES, example_event
from rapport_common.events.feedback import OrsSubmitted, SrsSubmitted
from rapport_common.events.fields import tenths

DELETE = object()
SRS = "rapport.feedback.srs-submitted"
SESSION_STARTED = "rapport.session.started"


def envelope(event_type: str) -> dict[str, Any]:
    """The example of ``event_type`` as the JSON object a producer would send."""
    return json.loads(encode_event(EXAMPLES[event_type]).value)


def changed(event_type: str, path: str, value: Any) -> bytes:
    """The example record with the field at dotted ``path`` set to ``value`` (or removed, for DELETE)."""
    doc = envelope(event_type)
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    target: Any = doc
    for part in parents:
        target = target[part]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return json.dumps(doc).encode()


def srs_items(*items: float, total: float) -> bytes:
    doc = envelope(SRS)
    doc["data"]["items"] = dict(zip(("relationship", "goals_topics", "approach_method", "overall"), items, strict=True))
    doc["data"]["total"] = total
    return json.dumps(doc).encode()


@dataclass(frozen=True)
class Case:
    id: str
    value: bytes | None
    reason: str
    field: str
    headers: tuple[tuple[str, bytes], ...] = ()


CASES = [
    # the record as a whole
    Case("truncated-json", encode_event(EXAMPLES[SRS]).value[:-7], "invalid-json", "value"),
    Case("not-utf8", b'{"id": "\xff\xfe"}', "invalid-json", "value"),
    Case("json-array", b'[{"type": "rapport.session.started"}]', "not-an-object", "value"),
    Case("json-string", b'"rapport.session.started"', "not-an-object", "value"),
    Case("no-value", None, "empty-value", "value"),
    Case("huge", changed(SRS, "data.comment", "x" * MAX_RECORD_BYTES), "too-large", "value"),
    Case(
        "wrong-content-type",
        encode_event(EXAMPLES[SRS]).value,
        "invalid-content-type",
        "content-type",
        (("content-type", b"application/json"),),
    ),
    # envelope
    Case("unknown-type", changed(SRS, "type", "rapport.feedback.srs-submitted.v2"), "unknown-type", "type"),
    Case("missing-type", changed(SRS, "type", DELETE), "unknown-type", "type"),
    Case("specversion-0.3", changed(SRS, "specversion", "0.3"), "invalid-field", "specversion"),
    Case("missing-specversion", changed(SRS, "specversion", DELETE), "invalid-field", "specversion"),
    Case(
        "ended-before-started",
        changed("rapport.session.ended", "data.ended_at", "2000-01-01T00:00:00+00:00"),
        "invalid-field",
        "data.ended_at",
    ),
    Case("naive-time", changed(SRS, "time", "2025-03-03T15:48:00"), "invalid-field", "time"),
    Case("epoch-time", changed(SRS, "time", 1741016880), "invalid-field", "time"),
    Case("missing-subject", changed(SRS, "subject", DELETE), "invalid-field", "subject"),
    Case("empty-subject", changed(SRS, "subject", ""), "invalid-field", "subject"),
    Case("missing-id", changed(SRS, "id", DELETE), "invalid-field", "id"),
    Case("numeric-id", changed(SRS, "id", 42), "invalid-field", "id"),
    Case("missing-data", changed(SRS, "data", DELETE), "invalid-field", "data"),
    Case("data-is-a-list", changed(SRS, "data", []), "invalid-field", "data"),
    Case("datacontenttype-xml", changed(SRS, "datacontenttype", "application/xml"), "invalid-field", "datacontenttype"),
    # feedback
    Case("srs-item-10.1", changed(SRS, "data.items.relationship", 10.1), "invalid-field", "data.items.relationship"),
    Case(
        "srs-item-negative", changed(SRS, "data.items.goals_topics", -0.1), "invalid-field", "data.items.goals_topics"
    ),
    Case(
        "srs-item-two-decimals", srs_items(9.65, 9.9, 9.9, 9.9, total=39.35), "invalid-field", "data.items.relationship"
    ),
    Case("srs-total-two-decimals", srs_items(9.7, 9.9, 9.9, 9.9, total=39.41), "invalid-field", "data.total"),
    Case("srs-total-not-item-sum", changed(SRS, "data.total", 39.5), "invalid-field", "data.total"),
    Case("srs-total-over-40", changed(SRS, "data.total", 40.1), "invalid-field", "data.total"),
    Case("srs-item-as-string", changed(SRS, "data.items.overall", "9.9"), "invalid-field", "data.items.overall"),
    Case("srs-missing-item", changed(SRS, "data.items.overall", DELETE), "invalid-field", "data.items.overall"),
    Case("srs-session-id-missing", changed(SRS, "data.session_id", DELETE), "invalid-field", "data.session_id"),
    Case(
        "ors-unknown-age-band",
        changed("rapport.feedback.ors-submitted", "data.age_band", "senior"),
        "invalid-field",
        "data.age_band",
    ),
    Case("pulse-score-0", changed("rapport.feedback.pulse-submitted", "data.score", 0), "invalid-field", "data.score"),
    Case("pulse-score-6", changed("rapport.feedback.pulse-submitted", "data.score", 6), "invalid-field", "data.score"),
    Case(
        "pulse-score-fraction",
        changed("rapport.feedback.pulse-submitted", "data.score", 4.5),
        "invalid-field",
        "data.score",
    ),
    Case(
        "pulse-unknown-question",
        changed("rapport.feedback.pulse-submitted", "data.question", "felt-rushed"),
        "invalid-field",
        "data.question",
    ),
    Case(
        "wai-subscale-mismatch",
        changed("rapport.feedback.wai-submitted", "data.goal", 17),
        "invalid-field",
        "data.goal",
    ),
    Case("wai-item-6", changed("rapport.feedback.wai-submitted", "data.items.3", 6), "invalid-field", "data.items.3"),
    Case(
        "wai-11-items",
        changed("rapport.feedback.wai-submitted", "data.items.11", DELETE),
        "invalid-field",
        "data.items",
    ),
    # session
    Case(
        "telemetry-ratio-1.5",
        changed("rapport.session.telemetry", "data.client_talk_ratio", 1.5),
        "invalid-field",
        "data.client_talk_ratio",
    ),
    Case(
        "telemetry-window-reversed",
        changed("rapport.session.telemetry", "data.window_end", "2025-03-03T15:09:00Z"),
        "invalid-field",
        "data.window_end",
    ),
    Case(
        "telemetry-silence-longer-than-window",
        changed("rapport.session.telemetry", "data.longest_silence_s", 61.0),
        "invalid-field",
        "data.longest_silence_s",
    ),
    Case(
        "session-naive-started-at",
        changed(SESSION_STARTED, "data.started_at", "2025-03-03T15:01:00"),
        "invalid-field",
        "data.started_at",
    ),
    Case(
        "scheduled-end-before-start",
        changed("rapport.session.scheduled", "data.scheduled_end", "2025-03-03T14:10:00Z"),
        "invalid-field",
        "data.scheduled_end",
    ),
    Case(
        "cancelled-late-as-string",
        changed("rapport.session.cancelled", "data.late", "true"),
        "invalid-field",
        "data.late",
    ),
    Case(
        "overrun-negative",
        changed("rapport.session.overrun", "data.minutes_over", -1),
        "invalid-field",
        "data.minutes_over",
    ),
    Case(
        "message-unknown-flag",
        changed("rapport.session.message-sent", "data.flags.0", "profanity"),
        "invalid-field",
        "data.flags.0",
    ),
    # consent
    Case(
        "consent-unknown-scope",
        changed("rapport.consent.granted", "data.scope", "marketing"),
        "invalid-field",
        "data.scope",
    ),
    Case(
        "consent-valid-until-before-from",
        changed("rapport.consent.granted", "data.valid_until", "2025-02-01T00:00:00Z"),
        "invalid-field",
        "data.valid_until",
    ),
    Case(
        "consent-granted-by-unknown-role",
        changed("rapport.consent.granted", "data.granted_by.role", "neighbour"),
        "invalid-field",
        "data.granted_by.role",
    ),
    # intake
    Case(
        "client-bad-timezone",
        changed("rapport.intake.client-registered", "data.timezone", "Mars/Olympus_Mons"),
        "invalid-field",
        "data.timezone",
    ),
    Case(
        "working-hours-end-before-start",
        changed("rapport.intake.clinician-registered", "data.working_hours.0.end", "08:00"),
        "invalid-field",
        "data.working_hours.0.end",
    ),
    Case(
        "working-hours-25h",
        changed("rapport.intake.clinician-registered", "data.working_hours.1.start", "25:00"),
        "invalid-field",
        "data.working_hours.1.start",
    ),
    Case(
        "working-hours-weekday-7",
        changed("rapport.intake.clinician-registered", "data.working_hours.0.weekday", 7),
        "invalid-field",
        "data.working_hours.0.weekday",
    ),
    Case(
        "baseline-ors-total-not-item-sum",
        changed("rapport.intake.completed", "data.baseline_ors.total", 18.7),
        "invalid-field",
        "data.baseline_ors.total",
    ),
    # alerts
    Case(
        "alert-empty-evidence",
        changed("rapport.alliance.alert-raised", "data.evidence", []),
        "invalid-field",
        "data.evidence",
    ),
    Case(
        "alert-unknown-rule",
        changed("rapport.alliance.alert-raised", "data.rule", "vibes"),
        "invalid-field",
        "data.rule",
    ),
    Case(
        "alert-update-without-evidence",
        changed("rapport.alliance.alert-updated", "data.added_evidence", []),
        "invalid-field",
        "data.added_evidence",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_malformed_record_is_rejected_with_reason_and_field(case: Case) -> None:
    with pytest.raises(EventDecodeError) as raised:
        decode_event(case.value, list(case.headers) or None)
    assert (raised.value.reason, raised.value.field) == (case.reason, case.field), raised.value.message


def test_the_table_is_broad_and_ids_are_unique() -> None:
    assert len(CASES) >= 25
    assert len({case.id for case in CASES}) == len(CASES)


def test_the_unmodified_examples_are_accepted() -> None:
    """Guards the table: each case fails because of its one change, not a broken base record."""
    for event_type, event in EXAMPLES.items():
        assert decode_event(json.dumps(envelope(event_type)).encode()) == event


@pytest.mark.parametrize(
    ("items", "total"),
    [
        ((9.7, 9.9, 9.9, 9.9), 39.4),
        ((9.1, 9.1, 9.1, 9.1), 36.4),
        ((0.1, 0.2, 0.0, 0.0), 0.3),  # 0.1 + 0.2 != 0.3 in binary floating point
        ((10.0, 10.0, 10.0, 10.0), 40.0),
        ((0.0, 0.0, 0.0, 0.0), 0.0),
        ((3.3, 3.3, 3.3, 0.1), 10.0),
    ],
)
def test_srs_totals_are_exact_at_one_decimal(items: tuple[float, ...], total: float) -> None:
    event = decode_event(srs_items(*items, total=total))
    assert event.data.total == total
    assert tenths(event.data.total) == sum(tenths(item) for item in items)


@pytest.mark.parametrize(
    ("before_items", "before_total", "after_items", "after_total"),
    [
        ((9.7, 9.9, 9.9, 9.9), 39.4, (9.1, 9.1, 9.1, 9.1), 36.4),
        ((8.3, 8.0, 8.0, 8.0), 32.3, (7.3, 7.0, 7.0, 8.0), 29.3),  # 32.3 - 29.3 < 3.0 in floats
    ],
)
def test_a_drop_of_exactly_three_points_is_exact(
    before_items: tuple[float, ...], before_total: float, after_items: tuple[float, ...], after_total: float
) -> None:
    before = decode_event(srs_items(*before_items, total=before_total))
    after = decode_event(srs_items(*after_items, total=after_total))
    assert tenths(before.data.total) - tenths(after.data.total) == 30


def test_integer_scores_are_accepted_for_one_decimal_items() -> None:
    event = decode_event(srs_items(10, 9, 9, 8, total=36))
    assert event.data.total == 36.0


@pytest.mark.parametrize("event_cls", [SrsSubmitted, OrsSubmitted])
def test_a_total_one_tenth_off_is_rejected(event_cls: type[SrsSubmitted] | type[OrsSubmitted]) -> None:
    example = example_event(event_cls)
    doc = json.loads(encode_event(example).value)
    doc["data"]["total"] = round(example.data.total + 0.1, 1)
    with pytest.raises(EventDecodeError) as raised:
        decode_event(json.dumps(doc).encode(), [("content-type", CONTENT_TYPE.encode())])
    assert (raised.value.reason, raised.value.field) == ("invalid-field", "data.total")
    assert "sum of the items" in raised.value.message
