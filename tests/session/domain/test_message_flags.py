"""Message flags: targeted cases per flag and obfuscation, hard negatives, config, speed, and the quality gate."""

from __future__ import annotations

import inspect
import io
import tokenize
from pathlib import Path

import pytest
from pydantic import ValidationError

from bench.session.flag_quality import config_for, evaluate, load_labelled
from rapport_session.domain import message_cues, message_flags
from rapport_session.domain.message_flags import (
    FLAGS,
    OFF_PLATFORM_CONTACT,
    PAYMENT_REQUEST,
    SOCIAL_MEDIA,
    Flag,
    MessageFlagConfig,
    detect_flags,
    phone_key,
)

DATA = Path(__file__).parent / "data" / "messages_labelled.jsonl"
CONFIG = MessageFlagConfig(clinic_phone_numbers={"+1 (888) 555-0142", "212-555-0199"})
C, P, S = OFF_PLATFORM_CONTACT, PAYMENT_REQUEST, SOCIAL_MEDIA


def flags(text: str, config: MessageFlagConfig = CONFIG) -> frozenset[Flag]:
    return detect_flags(text, config=config)


@pytest.mark.parametrize(
    "text",
    [
        "my cell is 555-318-7702",
        "(555) 318 7702 is the best way to get me",
        "555.318.7702",
        "5553187702 text anytime",
        "1-555-318-7702",
        "+1 555 318 7702",
        "+44 20 7946 0958 when I'm in London",
        "07700 900461 is my UK mobile",
        "five five five three one eight seven seven oh two",
        "five five five, three one eight, seven seven zero two",
        "555 dot 318 dot 7702",
        "555 dash 318 dash 7702",
        "5five5 31eight 77o2",
        "double five five three one eight seven seven zero two",
        "5 5 5 3 1 8 7 7 0 2",
        "５５５-３１８-７７０２",
        "call me: 555\u2013318\u20137702",
        "my number is 555-3187",
    ],
    ids=lambda t: t[:30],
)
def test_phone_numbers_in_many_formats(text: str) -> None:
    assert flags(text) == {C}


@pytest.mark.parametrize(
    "text",
    [
        "write to mara.k@example.org",
        "mara.k at gmail dot com",
        "mara (dot) k (at) yahoo (dot) com",
        "mara [at] protonmail [dot] com",
        "MARA AT HOTMAIL DOT COM",
        "my email is marak at icloud",
        "mara.k @ outlook . com",
        "email me at mara at kline dot net",
    ],
)
def test_email_addresses_plain_and_obfuscated(text: str) -> None:
    assert flags(text) == {C}


@pytest.mark.parametrize(
    "text",
    [
        "add me on WhatsApp",
        "whatsapp me tonight",
        "are you on signal?",
        "my telegram is @owl_at_night",
        "t.me/owl_at_night",
        "hit me up on snapchat",
        "my wechat id: owl2024",
        "skype: live:owl.at.night",
        "https://us05web.zoom.us/j/12345678901",
        "meet.google.com/abc-defg-hij",
        "can we just facetime?",
        "let's move this to discord",
        "I'll message you on whatsapp later",
        "could we do a quick zoom instead?",
        "just text me",
        "shoot me a text",
        "call my cell",
        "can I call you on your cell?",
        "what's your personal number?",
        "what's the best number to reach you at?",
        "I'd feel safer talking on telegram",
        "do you have a personal email?",
        "I'll send you my cell later",
        "sending u a whatsapp now",
        "could we switch to a phone call instead",
    ],
)
def test_messaging_apps_links_and_phone_cues(text: str) -> None:
    assert flags(text) == {C}


@pytest.mark.parametrize(
    "text",
    [
        "venmo me @sam-lee-22",
        "my venmo is @sam-lee-22",
        "what's your venmo?",
        "send it to my cash app $samlee",
        "$samleecounseling",
        "cash.app/$samlee",
        "paypal.me/samlee",
        "can I pay you through PayPal?",
        "zelle me the fee",
        "do you take zelle?",
        "pay me directly and skip the fee",
        "can I pay you in cash?",
        "IBAN FR14 2004 1010 0505 0001 3M02 606",
        "routing number 021000021",
        "sort code 40-11-62 account 31926819",
        "what's your account number? I'll do a transfer",
        "btc: 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
        "0x32Be343B94f860124dC4fEe278FDCBD38C102D88",
        "I'll wire it to your bank account",
        "I'll e-transfer you tonight",
        "can I give you the cash on Friday?",
        "the fee is $60, please mail a check directly to me",
        "I'll paypal it tonight, my paypal is in my bio",
    ],
)
def test_payment_requests(text: str) -> None:
    assert flags(text) == {P}


@pytest.mark.parametrize(
    "text",
    [
        "follow me on instagram",
        "add me on facebook",
        "are you on tiktok?",
        "my insta is sam.draws_",
        "follow @sam.draws on IG",
        "instagram.com/sam.draws",
        "tiktok.com/@sam.draws",
        "linkedin.com/in/sam-lee",
        "can we connect on linkedin?",
        "I sent you a friend request",
        "I just followed you on instagram",
        "follow me back on x",
        "subscribe to my youtube channel",
        "just sent a follow request on insta",
        "can I like your page on facebook?",
    ],
)
def test_social_media_invitations(text: str) -> None:
    assert flags(text) == {S}


def test_several_flags_in_one_message() -> None:
    assert flags("text me 555-318-7702, venmo @sam-lee-22, and follow me on insta") == {C, P, S}


@pytest.mark.parametrize(
    "text",
    [
        # what the platform publishes
        "call support at (888) 555-0142",
        "1-888-555-0142",
        "the front desk is 212.555.0199",
        "call or text 988 if you're in crisis",
        "the hotline is 1-800-799-7233",
        "https://app.rapport.health/session/42",
        "help@rapport.health",
        "rapport.health/help",
        # money without a request
        "I paid my copay in the app",
        "the book cost $20",
        "Can I pay my balance in the app?",
        "I had to venmo my roommate again",
        "I can't accept Venmo, please use the portal",
        # social media talk without an invitation
        "my sister's instagram addiction is stressing me",
        "I read it on facebook",
        "he added me on linkedin and I panicked",
        "the influencer I follow on tiktok said the same thing",
        "I unfollowed him on instagram",
        # messaging and phone words
        "my boss texted me at midnight",
        "please call me Sam",
        "mixed signals all week",
        "I snapped at my partner",
        "please don't text me on my personal phone, use the app",
        "you can text me here in the app",
        "we had a zoom meeting at work",
        "I was at target dot com all night",
        "I ordered it at amazon.com",
        # numbers that are not phone numbers
        "take 20 mg at 8:30",
        "session on 12/03",
        "I scored 7/10",
        "born in 1991",
        "from 2015 to 2021",
        "2026-04-07 at 15:30",
        "my scores: 18 22 25 27 31",
        "claim #5553187702",
        "member ID 5553187702",
        "zip 60614-2281",
        "5-4-3-2-1 grounding",
        "I walked 12,000 steps",
        "blood pressure 142/91",
        "",
    ],
)
def test_hard_negatives(text: str) -> None:
    assert flags(text) == frozenset()


def test_published_numbers_are_allowed_only_by_config() -> None:
    text = "call 888-555-0142"
    assert flags(text, MessageFlagConfig()) == {C}
    assert flags(text) == frozenset()


def test_platform_domains_cover_subdomains_and_addresses() -> None:
    config = MessageFlagConfig(platform_domains={"https://www.clinic.example/"})
    assert config.platform_domains == {"clinic.example"}
    assert flags("join at video.clinic.example/room/1 or write to desk@clinic.example", config) == frozenset()
    assert flags("zoom.clinic-example.us/j/1", config) == frozenset()  # not a known off-platform host either
    assert flags("join at zoom.us/j/123 instead", config) == {C}


def test_config_normalises_and_validates() -> None:
    config = MessageFlagConfig(clinic_phone_numbers=["+1 (212) 555-0199", "0044 20 7946 0958"])
    assert config.clinic_phone_numbers == {"2125550199", "442079460958"}
    assert config.is_published_phone("212 555 0199")
    assert config.is_published_phone("+44 20 7946 0958")
    with pytest.raises(ValidationError):
        MessageFlagConfig(clinic_phone_numbers=["12"])
    with pytest.raises(ValidationError):
        MessageFlagConfig(platform_domains=["localhost"])
    with pytest.raises(ValidationError):
        MessageFlagConfig(unknown=True)  # type: ignore[call-arg]


def test_default_crisis_lines_are_validated_defaults() -> None:
    assert "8002738255" in MessageFlagConfig().crisis_phone_numbers


@pytest.mark.parametrize(
    ("number", "key"),
    [("+1 (555) 318-7702", "5553187702"), ("1-555-318-7702", "5553187702"), ("0049 30 1234567", "49301234567")],
)
def test_phone_key(number: str, key: str) -> None:
    assert phone_key(number) == key


@pytest.mark.parametrize(
    "text",
    [
        "5" * 4000,
        "5 " * 2000,
        "a" * 4000,
        "@" * 4000,
        "a." * 2000,
        "at dot " * 600,
        "five " * 800,
        "my " * 1300,
        "text " * 800,
        "$a" * 2000,
        "1-" * 2000,
        "a@" * 2000,
        "a.b@" * 1000,
        "a at " * 800 + "email",
        "x.y at gmail dot " * 250,
        "my insta is " + "a." * 1000,
        "https://" + "a." * 2000,
        ("pay " + "x " * 10) * 150,
    ],
    ids=lambda t: repr(t[:8]),
)
@pytest.mark.timeout(10)
def test_adversarial_input_terminates(text: str) -> None:
    """A hang guard, not a speed goal: catastrophic backtracking takes minutes on these inputs, a linear
    detector a few milliseconds. Speed is measured by ``bench/session/flag_quality.py``."""
    assert detect_flags(text, config=CONFIG) <= frozenset(FLAGS)


# ---------------------------------------------------------------------------------------------------
# the labelled set and the quality gate (issue 5: precision >= 0.95, recall >= 0.90 per flag)
# ---------------------------------------------------------------------------------------------------


def test_labelled_set_composition() -> None:
    messages = load_labelled(DATA)
    negatives = [m for m in messages if not m.flags]
    hard = [m for m in messages if m.is_hard_negative]
    assert len(messages) >= 250
    assert len(negatives) / len(messages) >= 0.40
    assert len(hard) >= 60
    for flag in (C, P, S):
        assert sum(flag in m.flags for m in messages) >= 30, flag
    assert {m.sender for m in messages} == {"client", "clinician"}
    assert len({m.text for m in messages}) == len(messages), "duplicate texts"


def _code_without_comments(module: object) -> str:
    tokens = tokenize.generate_tokens(io.StringIO(inspect.getsource(module)).readline)  # type: ignore[arg-type]
    return " ".join(t.string for t in tokens if t.type != tokenize.COMMENT).lower()


def test_detector_holds_no_dataset_text() -> None:
    """The scores must come from rules, not from looking messages up: no labelled text sits in the code."""
    source = _code_without_comments(message_flags) + _code_without_comments(message_cues)
    for message in load_labelled(DATA):
        text = message.text.lower()
        for start in range(0, max(1, len(text) - 24), 12):
            fragment = text[start : start + 25]
            if len(fragment) == 25:
                assert fragment not in source, fragment


def test_quality_on_the_labelled_set() -> None:
    report = evaluate(load_labelled(DATA), config=config_for(DATA))
    for score in report.scores.values():
        assert score.precision >= 0.95, (score.flag, score)
        assert score.recall >= 0.90, (score.flag, score)
    assert report.hard_negatives_flagged <= report.hard_negatives * 0.05
