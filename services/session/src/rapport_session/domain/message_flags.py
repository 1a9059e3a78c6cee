"""Boundary flags on in-app messages: off-platform contact, payment requests, social-media invitations.

DOMAIN.md (boundaries): moving a client off the platform (phone numbers, e-mail, messaging apps,
social media) or taking money outside it are the place/contact and money boundaries a telehealth
platform can see. A flag is a prompt for reflection, never an accusation, and only the flags leave the
service (``message-sent`` never carries the text), so the detector favours precision: it flags concrete
contact data (numbers, addresses, links, handles) and explicit invitations ("text me", "add me on
snapchat", "venmo me"), not every mention of an app ("I read it on facebook").

How it works, in three views of one message:
- ``plain``: NFKC-normalised, lower-cased, invisible characters removed. Cue phrases run here.
- ``symbolic``: ``plain`` with obfuscations undone ("five five five" -> 555, "dot" -> ".", "(at)" -> "@"),
  where phone numbers are found by their grouping (3-3-4, +CC ...), never by digit count alone, so dates,
  times, doses, scores and ids stay quiet.
- the original text, case kept, for crypto addresses (base58 is case-sensitive).
Published numbers and the platform's domains come from :class:`MessageFlagConfig` and are never flagged.
Structured data (numbers, addresses, links, bank and crypto details) is found here; the invitation
phrases live in :mod:`rapport_session.domain.message_cues`.

Labelling convention (also used by the labelled set): an e-mail address or phone number is contact; a
payment app, bank detail or crypto address is payment; social networks (Instagram, Facebook, TikTok,
X/Twitter, LinkedIn, Threads, YouTube) are social media, messaging and video apps (WhatsApp, Signal,
Telegram, Snapchat, WeChat, Skype, Zoom, Meet, FaceTime ...) are contact.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, TypeAlias

from pydantic import BaseModel, ConfigDict, field_validator

from rapport_common.events.session import MessageFlag
from rapport_session.domain import message_cues as cues

Flag: TypeAlias = MessageFlag
OFF_PLATFORM_CONTACT: Final[Flag] = "off-platform-contact"
PAYMENT_REQUEST: Final[Flag] = "payment-request"
SOCIAL_MEDIA: Final[Flag] = "social-media"
FLAGS: Final[tuple[Flag, ...]] = (OFF_PLATFORM_CONTACT, PAYMENT_REQUEST, SOCIAL_MEDIA)

#: US national crisis and help lines: every platform publishes them in safety plans.
US_CRISIS_LINES: Final = frozenset(
    {
        "1-800-273-8255",  # former National Suicide Prevention Lifeline number, still routed to 988
        "1-800-662-4357",  # SAMHSA national helpline
        "1-800-799-7233",  # National Domestic Violence Hotline
        "1-866-488-7386",  # The Trevor Project
        "1-800-656-4673",  # RAINN
    }
)


def phone_key(number: str) -> str:
    """Digits of a phone number in the form used for allow-list lookups (NANP without the leading 1)."""
    digits = re.sub(r"\D", "", number)
    if digits.startswith("00"):
        digits = digits[2:]
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def _domain_key(domain: str) -> str:
    domain = domain.strip().lower()
    domain = re.sub(r"^[a-z]+://", "", domain).split("/", 1)[0]
    return domain.removeprefix("www.").removeprefix("@").strip(".")


class MessageFlagConfig(BaseModel):
    """What the platform itself publishes, so it is never flagged as off-platform.

    Numbers are stored as :func:`phone_key` digits and domains as bare host names; a domain also
    covers its subdomains (``rapport.health`` covers ``app.rapport.health``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    clinic_phone_numbers: frozenset[str] = frozenset()
    crisis_phone_numbers: frozenset[str] = US_CRISIS_LINES
    platform_domains: frozenset[str] = frozenset({"rapport.health"})

    @field_validator("clinic_phone_numbers", "crisis_phone_numbers")
    @classmethod
    def _phone_keys(cls, numbers: frozenset[str]) -> frozenset[str]:
        keys = frozenset(phone_key(n) for n in numbers)
        if any(len(k) < 3 for k in keys):
            raise ValueError("a phone number needs at least 3 digits")
        return keys

    @field_validator("platform_domains")
    @classmethod
    def _domain_keys(cls, domains: frozenset[str]) -> frozenset[str]:
        keys = frozenset(_domain_key(d) for d in domains)
        if any("." not in k for k in keys):
            raise ValueError("a platform domain needs a dot, e.g. rapport.health")
        return keys

    def is_published_phone(self, number: str) -> bool:
        key = phone_key(number)
        return key in self.clinic_phone_numbers or key in self.crisis_phone_numbers

    def is_platform_host(self, host: str) -> bool:
        host = _domain_key(host)
        return any(host == d or host.endswith("." + d) for d in self.platform_domains)


# --------------------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------------------

_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u2060\ufeff]")
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"} | {"\u2019": "'"})
_DIGIT_WORDS: Final = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "niner": "9",
}
_DIGIT_WORD = re.compile(r"(?<![a-z])(" + "|".join(sorted(_DIGIT_WORDS, key=len, reverse=True)) + r")(?![a-z])")
_OH_BETWEEN_DIGITS = re.compile(r"(?<=\d)([\s,-]*)(?:oh|o)(?=[\s,-]*\d)")
_DOUBLE_DIGIT = re.compile(r"\b(double|triple)[\s-]+(\d)")
_SPACED_SINGLE_DIGITS = re.compile(r"(?<![\d.,])\d(?:[ -]\d){2,}(?![\d])")
_BRACKET_DOT = re.compile(r"\s*[(\[{<]\s*dot\s*[)\]}>]\s*")
_SPOKEN_DOT = re.compile(r"(?<=[a-z0-9])\s+dot\s+(?=[a-z0-9])")
_DOTCOM = re.compile(r"\s*\bdot\s*(com|net|org)\b")
_BRACKET_AT = re.compile(r"\s*[(\[{<]\s*at\s*[)\]}>]\s*")
_SPOKEN_DASH = re.compile(r"(?<=\d)\s+(?:dash|hyphen)\s+(?=\d)")
_BRACKET = re.compile(r"[(\[{<]")
#: "name @ gmail": spaces on both sides, or after the @; a handle ("insta @name") never has a space after it
_SPACED_AT = re.compile(r"(?<=[a-z0-9])\s*@\s+(?=[a-z0-9])")
_ANY_DIGIT = re.compile(r"\d")
_SEPARATOR = re.compile(r"[ -]")
_WORD = re.compile(r"[a-z0-9]+")


def _symbolic(plain: str) -> str:
    """``plain`` with spoken or obfuscated digits, dots and at-signs written as symbols.

    Each rewrite runs only when its trigger text is present: most messages have none, and skipping
    the scans keeps the detector cheap enough to run on every message.
    """
    text = plain
    if "dot" in text:
        text = _BRACKET_DOT.sub(".", text)
        text = _DOTCOM.sub(r".\1", text)
        text = _SPOKEN_DOT.sub(".", text)
    if "at" in text and _BRACKET.search(text):
        text = _BRACKET_AT.sub("@", text)
    if "@" in text:
        text = _SPACED_DOT_TLD.sub(".", _SPACED_AT.sub("@", text))
    text = _DIGIT_WORD.sub(lambda m: _DIGIT_WORDS[m.group(1)], text)
    if _ANY_DIGIT.search(text) is None:
        return text
    if "o" in text:
        text = _OH_BETWEEN_DIGITS.sub(r"\g<1>0", text)
    if "double" in text or "triple" in text:
        text = _DOUBLE_DIGIT.sub(lambda m: " ".join(m.group(2) * (2 if m.group(1) == "double" else 3)), text)
    if "dash" in text or "hyphen" in text:
        text = _SPOKEN_DASH.sub("-", text)
    return _SPACED_SINGLE_DIGITS.sub(lambda m: _SEPARATOR.sub("", m.group(0)), text)


# --------------------------------------------------------------------------------------------------
# phone numbers
# --------------------------------------------------------------------------------------------------

_PHONE = re.compile(r"(?<![\w$/.,#+-])(\+\s?)?\(?\d(?:(?:[ .()\u00b7\u2022-]{1,4}|, )?\d)+\)?")
_PHONE_AFTER = re.compile(
    r"[/:]\d|\s*%|\s*(?:mg|mcg|ml|lbs?|kg|am|pm|a\.m|p\.m|mins?|minutes?|hours?|hrs?|days?|weeks?|years?|"
    r"steps|times|x|st|nd|rd|th)\b"
)
_ID_BEFORE = re.compile(
    r"\b(?:id|member|policy|claim|confirmation|conf|reference|ref|order|tracking|case|npi|license|rx|"
    r"prescription|group|account|acct|routing|invoice|ticket|serial|pin|code|ssn|zip|postcode|iban)"
    r"(?:\s*(?:number|no\.?|num|#|id|code))?\s*(?:is|was)?\s*[:#]?\s*$"
)
_PHONE_CUE = re.compile(r"\b(?:number|phone|cell|mobile|call|text|landline|reach|dial|line|ring|whatsapp|signal)\b")
_DIGIT_RUN = re.compile(r"\d+")
#: NANP grouping shapes (digits per group) that people actually write
_NANP_SHAPES: Final = {(10,), (3, 3, 4), (3, 7), (6, 4), (3, 3, 2, 2)}
_NANP_1_SHAPES: Final = {(11,), (1, 3, 3, 4), (1, 10), (1, 3, 7), (4, 3, 4), (1, 6, 4)}


def _is_nanp(digits: str, *, grouped: bool) -> bool:
    """Area code (and, for an ungrouped run of ten, exchange code) starting 2-9, as NANP numbers do.

    A run written in phone groups (555-173-4420) is a phone by its shape even with an invalid exchange;
    ten digits in one run need the stricter check, because ids and codes look like that too.
    """
    return digits[0] in "23456789" and (grouped or digits[3] in "23456789")


def _looks_like_phone(groups: tuple[int, ...], digits: str, *, plus: bool, cue: bool) -> bool:
    """Judge a digit run by how it is grouped: 555-123-4567 is a phone, 18 22 25 27 31 is not."""
    total = len(digits)
    if plus:
        return 8 <= total <= 15
    if total == 10 and groups in _NANP_SHAPES:
        return _is_nanp(digits, grouped=len(groups) > 1)
    if total == 11 and digits[0] == "1" and groups in _NANP_1_SHAPES:
        return _is_nanp(digits[1:], grouped=len(groups) > 1)
    if total in (10, 11) and digits[0] == "0" and digits[1] != "0" and len(groups) <= 4 and min(groups) >= 2:
        return True  # national format outside North America: 020 7946 0321, 07700 900123
    if total == 7 and groups in {(3, 4), (7,)} and cue:
        return digits[0] in "23456789"  # a local number, only when the message talks about calling
    return False


def _phone_numbers(symbolic: str, config: MessageFlagConfig) -> Iterator[str]:
    if _ANY_DIGIT.search(symbolic) is None:
        return
    cue = _PHONE_CUE.search(symbolic) is not None
    for match in _PHONE.finditer(symbolic):
        raw = match.group(0)
        if _PHONE_AFTER.match(symbolic, match.end()):
            continue
        if _ID_BEFORE.search(symbolic, max(0, match.start() - 30), match.start()):
            continue
        runs = _DIGIT_RUN.findall(raw)
        groups = tuple(len(g) for g in runs)
        digits = "".join(runs)
        if not _looks_like_phone(groups, digits, plus=match.group(1) is not None, cue=cue):
            continue
        if config.is_published_phone(digits):
            continue
        yield digits


# --------------------------------------------------------------------------------------------------
# e-mail addresses and links
# --------------------------------------------------------------------------------------------------

_TLDS = (
    r"com|net|org|edu|gov|io|co|us|uk|ca|me|info|biz|app|health|ai|de|fr|au|in|ly|gg|tv|to|be|link|"
    r"page|so|cc|nz|ie|es|it|nl|eu|mx|br|ch|at|se|no|dk|fi|pl|jp|cn|xyz|online|site"
)
_MAIL_PROVIDERS = (
    r"gmail|googlemail|yahoo|ymail|hotmail|outlook|icloud|aol|protonmail|proton|gmx|fastmail|zoho|mail|"
    r"comcast|verizon|att|sbcglobal|msn|live"
)
# Every pattern below starts only at a token boundary and bounds its repetitions (RFC 5321 sizes), so
# no input can make it backtrack quadratically ("a." * 2000 stays linear).
_LOCAL_PART = r"(?<![a-z0-9._%+-])[a-z0-9][a-z0-9._%+-]{0,63}"
_LABEL = r"[a-z0-9-]{1,63}"
_EMAIL = re.compile(rf"{_LOCAL_PART}@({_LABEL}(?:\.{_LABEL}){{0,8}}\.([a-z]{{2,24}}))\b")
#: "name at gmail.com" / "name at gmail" (spoken at: only with a mail provider, so "at amazon.com" stays quiet)
_SPOKEN_AT_PROVIDER = re.compile(
    rf"{_LOCAL_PART}\s+at\s+((?:{_MAIL_PROVIDERS})(?:\.[a-z]{{2,24}}){{0,3}})(?![a-z0-9@-])"
)
#: "name at example dot com" became "name at example.com" in the symbolic view; a spoken dot proves intent
_SPOKEN_AT_DOMAIN = re.compile(rf"{_LOCAL_PART}\s+at\s+({_LABEL}(?:\.{_LABEL}){{0,8}}\.(?:{_TLDS}))\b")
_EMAIL_CUE = re.compile(r"\b(?:e-?mail|mail|address|inbox|reach|write|contact|send)")
_SPOKEN_DOT_WORD = re.compile(r"(?:\bdot\b|[(\[{<]\s*dot\s*[)\]}>])")

#: "gmail . com": a dot written with spaces on both sides before a top-level domain
_SPACED_DOT_TLD = re.compile(rf"(?<=[a-z0-9])\s+\.\s+(?=(?:{_TLDS})\b)")
_URL_HINT = re.compile(r"[a-z0-9]\.[a-z]|://")
_URL = re.compile(
    rf"(?:https?://|www\.)[^\s<>\"')]+|(?<![a-z0-9.-])(?:{_LABEL}\.){{1,8}}(?:{_TLDS})\b(?:/[^\s<>\"')]*)?",
)


@dataclass(frozen=True, slots=True)
class _Host:
    flag: Flag
    profiles_only: bool = False


#: hosts whose links move contact or money off the platform; social hosts count for profile links only
_HOSTS: Final[dict[str, _Host]] = {
    **dict.fromkeys(
        (
            "whatsapp.com",
            "wa.me",
            "signal.me",
            "signal.group",
            "t.me",
            "telegram.me",
            "snapchat.com",
            "weixin.qq.com",
            "skype.com",
            "zoom.us",
            "zoom.com",
            "meet.google.com",
            "teams.microsoft.com",
            "teams.live.com",
            "webex.com",
            "whereby.com",
            "discord.gg",
            "discord.com",
            "m.me",
            "facetime.apple.com",
            "doxy.me",
            "gotomeet.me",
            "viber.com",
        ),
        _Host(OFF_PLATFORM_CONTACT),
    ),
    **dict.fromkeys(
        (
            "venmo.com",
            "paypal.me",
            "paypal.com",
            "cash.app",
            "cash.me",
            "buymeacoffee.com",
            "ko-fi.com",
        ),
        _Host(PAYMENT_REQUEST),
    ),
    **dict.fromkeys(
        (
            "instagram.com",
            "instagr.am",
            "facebook.com",
            "fb.com",
            "fb.me",
            "tiktok.com",
            "twitter.com",
            "x.com",
            "linkedin.com",
            "threads.net",
            "youtube.com",
            "pinterest.com",
            "bsky.app",
        ),
        _Host(SOCIAL_MEDIA, profiles_only=True),
    ),
}
#: first path segments that are content (a post, a video), not a profile to follow
_CONTENT_PATHS: Final = cues.word_set(
    "p reel reels stories explore watch share posts status hashtag tag search about help legal privacy "
    "login video videos photo photos events story shorts playlist results marketplace pulse news jobs i "
    "intent home notifications messages settings"
)


_SCHEME = re.compile(r"^https?://")
_PATH_SEPARATOR = re.compile(r"[/?#]")


def _host_flag(url: str, config: MessageFlagConfig) -> Flag | None:
    """The flag a link carries: off-platform hosts by name, social networks only for a profile or group."""
    without_scheme = _SCHEME.sub("", url)
    host, _, path = without_scheme.partition("/")
    host = host.removeprefix("www.").split(":", 1)[0].rstrip(".,;!?")
    if config.is_platform_host(host):
        return None
    labels = host.split(".")
    for i in range(len(labels) - 1):
        known = _HOSTS.get(".".join(labels[i:]))
        if known is None:
            continue
        if not known.profiles_only:
            return known.flag
        segments = [s for s in _PATH_SEPARATOR.split(path) if s]
        if segments and (segments[0].startswith("@") or segments[0] in ("in", "c", "channel", "user", "groups")):
            return known.flag  # tiktok/@x, linkedin/in/x, youtube/@x, facebook/groups/x: a place to join
        if len(segments) == 1 and segments[0].rstrip(".,;!?") not in _CONTENT_PATHS:
            return known.flag
        return None
    return None


_BANK_ACCOUNT_NUMBER = re.compile(
    r"(?<!patient\s)(?<!member\s)(?<!portal\s)\b(?:account|acct)\s*(?:number|no\.?|#)?\s*:?\s*\d[\d -]{5,}\d"
)
_CASHTAG = re.compile(r"(?<![\w$])\$[a-z][a-z0-9_]{1,29}\b")
_MONEY_WORD = re.compile(r"\b(?:bank|deposit|transfer|wire|checking|savings|pay|payment|send)\b")
_IBAN = re.compile(r"\b[a-z]{2}\d{2}(?:\s?[a-z0-9]{4}){2,7}(?:\s?[a-z0-9]{1,3})?\b")
_CRYPTO_ADDRESS = re.compile(
    r"\b(?:bc1[ac-hj-np-z02-9]{25,59}|[13][a-km-zA-HJ-NP-Z1-9]{25,34}|0x[0-9a-fA-F]{40}|T[1-9A-HJ-NP-Za-km-z]{33})\b"
)


def _iban_valid(candidate: str) -> bool:
    """ISO 13616 mod-97 check, so a random letters-and-digits code is not taken for bank details."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


# --------------------------------------------------------------------------------------------------
# the detector
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Message:
    """The views of one message that the checks share (see the module docstring)."""

    text: str
    plain: str
    symbolic: str
    words: frozenset[str]

    @classmethod
    def of(cls, text: str) -> _Message:
        nfkc = unicodedata.normalize("NFKC", text)
        plain = _INVISIBLE.sub("", nfkc).translate(_DASHES).lower()
        return cls(nfkc, plain, _symbolic(plain), frozenset(_WORD.findall(plain)))


def _contact(message: _Message, config: MessageFlagConfig) -> bool:
    if next(_phone_numbers(message.symbolic, config), None) is not None:
        return True
    if _has_email(message, config):
        return True
    if message.words & cues.CONTACT_TRIGGERS and cues.any_affirmed(cues.CONTACT_CUES, message.plain):
        return True
    return _names_app_with_handle(message, cues.CONTACT_APP_WORD)


#: words that stand before a spoken "at" as ordinary English ("I was at target dot com"), never as a mailbox
_NOT_A_MAILBOX: Final = cues.word_set(
    "i was were is am are be been being me it them him her us you we they stuff things up out online shopping "
    "that this there here something anything everything sale deals look looked looking ordered bought buy get "
    "got one ones go went"
)


def _mailbox(match: re.Match[str]) -> bool:
    """The spoken local part is a name-like token, not a function word."""
    local = match.group(0).split(None, 1)[0]
    return local not in _NOT_A_MAILBOX


def _has_email(message: _Message, config: MessageFlagConfig) -> bool:
    plain, symbolic = message.plain, message.symbolic
    if "@" in symbolic:
        for match in _EMAIL.finditer(symbolic):
            if not config.is_platform_host(match.group(1)):
                return True
    if " at " not in symbolic:
        return False
    for match in _SPOKEN_AT_PROVIDER.finditer(symbolic):
        if _mailbox(match) and ("." in match.group(1) or _EMAIL_CUE.search(plain)):
            return True
    if "dot" in plain and _SPOKEN_DOT_WORD.search(plain) and _EMAIL_CUE.search(plain):
        for match in _SPOKEN_AT_DOMAIN.finditer(symbolic):
            if _mailbox(match) and not config.is_platform_host(match.group(1)):
                return True
    return False


def _names_app_with_handle(message: _Message, app_word: re.Pattern[str]) -> bool:
    """An app named, a handle given and the sender owning or inviting: "my snap and insta are @jojo"."""
    plain = message.plain
    there = "there" in message.words
    if not (there or "@" in plain) or app_word.search(plain) is None:
        return False
    if there and cues.any_affirmed(cues.THERE_CUE, plain):
        return True
    if cues.AT_HANDLE.search(plain) is None:
        return False
    return cues.FOLLOW_BACK.search(plain) is not None or cues.OWNING.search(plain) is not None


def _social(message: _Message) -> bool:
    if message.words & cues.SOCIAL_TRIGGERS and cues.any_affirmed(cues.SOCIAL_CUES, message.plain):
        return True
    if message.words & cues.SOCIAL_TRIGGERS and cues.any_affirmed(cues.SOCIAL_INVITE, message.plain):
        return cues.SOCIAL_APP_WORD.search(message.plain) is not None
    return _names_app_with_handle(message, cues.SOCIAL_APP_WORD)


def _payment(message: _Message) -> bool:
    plain = message.plain
    if message.words & cues.PAYMENT_TRIGGERS and cues.any_affirmed(cues.PAYMENT_CUES, plain):
        return True
    if message.words & cues.MONEY_NOUNS and cues.any_affirmed(cues.TO_ME_DIRECTLY, plain):
        return True
    if "$" in plain and _CASHTAG.search(plain):
        return True
    if _CRYPTO_ADDRESS.search(message.text):
        return True
    if _ANY_DIGIT.search(plain) is None:
        return False
    if "acc" in plain and _BANK_ACCOUNT_NUMBER.search(plain) and _MONEY_WORD.search(plain):
        return True
    return any(_iban_valid(m.group(0)) for m in _IBAN.finditer(plain))


def _link_flags(message: _Message, config: MessageFlagConfig) -> set[Flag]:
    flags: set[Flag] = set()
    if _URL_HINT.search(message.plain) is None:
        return flags
    for match in _URL.finditer(message.plain):
        flag = _host_flag(match.group(0), config)
        if flag is not None:
            flags.add(flag)
    return flags


def detect_flags(text: str, *, config: MessageFlagConfig) -> frozenset[Flag]:
    """The boundary flags of one message (empty when none); pure and cheap enough for every message."""
    message = _Message.of(text)
    flags = _link_flags(message, config)
    if OFF_PLATFORM_CONTACT not in flags and _contact(message, config):
        flags.add(OFF_PLATFORM_CONTACT)
    if PAYMENT_REQUEST not in flags and _payment(message):
        flags.add(PAYMENT_REQUEST)
    if SOCIAL_MEDIA not in flags and _social(message):
        flags.add(SOCIAL_MEDIA)
    return frozenset(flags)
