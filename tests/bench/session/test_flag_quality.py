"""The quality report: confusion counts, precision/recall/F1 arithmetic, loading, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.session.flag_quality import (
    FlagScore,
    LabelledMessage,
    config_for,
    evaluate,
    format_report,
    load_labelled,
    main,
    measure_throughput,
)
from rapport_session.domain.message_flags import MessageFlagConfig


def message(text: str, *flags: str, note: str | None = None) -> LabelledMessage:
    return LabelledMessage.model_validate({"text": text, "sender": "client", "flags": list(flags), "note": note})


def test_score_arithmetic() -> None:
    score = FlagScore("payment-request", true_positives=8, false_positives=2, false_negatives=4, true_negatives=86)
    assert score.support == 12
    assert score.precision == pytest.approx(0.8)
    assert score.recall == pytest.approx(8 / 12)
    assert score.f1 == pytest.approx(2 * 0.8 * (8 / 12) / (0.8 + 8 / 12))


def test_score_without_predictions_or_support() -> None:
    nothing = FlagScore("social-media", 0, 0, 0, 10)
    assert (nothing.precision, nothing.recall, nothing.support) == (1.0, 1.0, 0)
    all_missed = FlagScore("social-media", 0, 0, 3, 7)
    assert (all_missed.recall, all_missed.f1) == (0.0, 0.0)


def test_evaluate_counts_each_flag_separately() -> None:
    messages = [
        message("text me at 555-318-7702", "off-platform-contact"),  # tp contact
        message("venmo me @sam-lee-22", "payment-request", "off-platform-contact"),  # tp pay, fn contact
        message("I read it on facebook", note="hard: mention"),  # tn everywhere
        message("follow me on instagram", note="mislabelled on purpose"),  # fp social
    ]
    report = evaluate(messages, config=MessageFlagConfig())
    contact, payment, social = (report.scores[f] for f in ("off-platform-contact", "payment-request", "social-media"))
    assert (contact.true_positives, contact.false_positives, contact.false_negatives, contact.true_negatives) == (
        1,
        0,
        1,
        2,
    )
    assert (payment.true_positives, payment.false_negatives, payment.true_negatives) == (1, 0, 3)
    assert (social.false_positives, social.true_negatives) == (1, 3)
    assert report.messages == 4
    assert report.negatives == 2
    assert report.hard_negatives == 1
    assert report.exact_matches == 2
    assert [m.message.text for m in report.misses] == ["venmo me @sam-lee-22", "follow me on instagram"]


def test_load_labelled_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    good = {"text": "hello", "sender": "client", "flags": []}
    bad = {"text": "hi", "sender": "robot", "flags": []}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(ValueError, match=r"set\.jsonl:3"):
        load_labelled(path)


def test_load_labelled_refuses_unknown_flags(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"text": "x", "sender": "client", "flags": ["gift"]}) + "\n")
    with pytest.raises(ValueError, match="flags"):
        load_labelled(path)


def test_sidecar_config_is_used_when_present(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    assert config_for(path) == MessageFlagConfig()
    (tmp_path / "set.config.json").write_text(json.dumps({"clinic_phone_numbers": ["555-318-7702"]}))
    assert config_for(path).is_published_phone("555 318 7702")


def test_throughput_is_measured() -> None:
    speed = measure_throughput(["text me 555-318-7702", "thanks for today"], config=MessageFlagConfig(), min_seconds=0)
    assert speed.messages >= 2
    assert speed.messages_per_cpu_second > 0
    assert speed.p99_us > 0
    with pytest.raises(ValueError):
        measure_throughput([], config=MessageFlagConfig())


def test_report_lists_every_flag() -> None:
    report = evaluate([message("text me at 555-318-7702", "off-platform-contact")], config=MessageFlagConfig())
    text = format_report(report)
    for flag in ("off-platform-contact", "payment-request", "social-media"):
        assert flag in text


def test_cli_prints_the_report_and_misses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "set.jsonl"
    rows = [
        {"text": "call me at 555-318-7702", "sender": "client", "flags": ["off-platform-contact"]},
        {"text": "the clinic is 212-555-0199", "sender": "clinician", "flags": []},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = tmp_path / "other.json"
    config.write_text(json.dumps({"clinic_phone_numbers": []}))
    assert main([str(path), "--config", str(config), "--errors", "--seconds", "0"]) == 0
    out = capsys.readouterr().out
    assert "messages 2" in out
    assert "messages per CPU second" in out
    assert "the clinic is 212-555-0199" in out  # flagged, because this config does not publish it
