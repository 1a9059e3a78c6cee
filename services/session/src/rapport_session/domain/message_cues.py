"""What people write when they move a conversation off the platform: the cue phrases of the detector.

Internal to :mod:`rapport_session.domain.message_flags`, kept apart because this vocabulary is what
changes when the labelled set shows a gap. Rules of the house, so the detector stays precise and fast:
- a cue is an invitation or a request ("add me on snapchat", "what's your venmo?"), never a bare mention
  of an app ("my daughter is on snapchat all day");
- every cue contains a word of its category's ``*_TRIGGERS`` set: a message without one skips the scan;
- a cue governed by a negation or a reported past ("I can't accept Venmo", "she used to text me") does
  not count (:func:`any_affirmed`);
- repetitions are bounded, so no input makes a pattern backtrack for long.
"""

from __future__ import annotations

import re
from typing import Final


def word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# --- vocabulary -------------------------------------------------------------------------------------

CONTACT_APPS = (
    r"whats\s?app|signal|telegram|snap(?:chat)?|we\s?chat|weixin|skype|zoom|google\s+meet|face\s?time|discord|"
    r"viber|kik|imessage|messenger|microsoft\s+teams|webex"
)
#: apps used as verbs ("whatsapp me"); "signal me", "zoom me" are ordinary English
CONTACT_VERBS = r"whats\s?app|snap(?:chat)?|skype|face\s?time|telegram|we\s?chat|viber|imessage"
SOCIAL_APPS = (
    r"instagram|insta|ig|facebook|fb|tik\s?tok|twitter|x|linked\s?in|threads|bereal|youtube|pinterest|reddit|bluesky"
)
PAY_APPS = (
    r"venmo|cash\s?app|paypal|pay\s?pal|zelle|apple\s+cash|apple\s+pay|google\s+pay|gpay|western\s+union|"
    r"moneygram|crypto|bitcoin|btc|ethereum|eth|usdt|usdc"
)
ME = r"(?:me|us)"
YOU = r"(?:you|u|ya)"
VIA = r"(?:on|via|over|through|thru|at|in|using|with)"
#: a handle-like token: has a digit, dot, underscore, hash or @ in it (plain words like "private" are not)
HANDLE = r"@?(?=[a-z0-9._#@:-]{0,40}[0-9._#@])[a-z0-9][a-z0-9._#:-]{2,40}|@[a-z0-9._-]{2,40}"
ON_PLATFORM = (
    r"\s+(?:in|on|through|thru|via|inside|within|here\s+in|here\s+on)\s+(?:the\s+|this\s+)?"
    r"(?:app|portal|platform|rapport|chat)\b"
)
SOLICIT = (
    rf"\b(?:are|r)\s+{YOU}\s+on|\b(?:do|d)\s*{YOU}\s+(?:have|use|do|got|take|accept)\s+(?:a\s+|an\s+)?|"
    r"\bwhat(?:'s|s|\s+is)\s+your|\byou\s+got\s+(?:a\s+)?"
)
ASK_TO_MOVE = (
    r"\b(?:let'?s|lets|we\s+(?:could|can|should)|can\s+we|could\s+we|shall\s+we|i'?d\s+rather|prefer\s+to|"
    r"want\s+to|wanna|how\s+about)"
)


def any_of(*patterns: str) -> re.Pattern[str]:
    """One compiled alternation of several cue patterns."""
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# --- off-platform contact -----------------------------------------------------------------------------

CONTACT_CUES = any_of(
    # add me on whatsapp, message me on telegram, hit me up on snap
    rf"\b(?:add|message|msg|text|txt|dm|pm|call|ping|reach|contact|find|hit|catch|chat\s+with|talk\s+to|write)\s+"
    rf"{ME}(?:\s+up)?\s+{VIA}\s+(?:my\s+)?(?:{CONTACT_APPS})\b",
    # ... and the mirror: message you on whatsapp, call you on your mobile
    rf"\b(?:add|message|msg|text|txt|dm|pm|call|ping|reach|contact|find)\s+{YOU}\s+(?:on|via|over|through|thru)\s+"
    rf"(?:my\s+|your\s+)?(?:{CONTACT_APPS})\b",
    rf"\bhmu\s+{VIA}\s+(?:{CONTACT_APPS})\b",
    rf"\b(?:{CONTACT_VERBS})\s+(?:{ME}|{YOU})\b",
    rf"\bmy\s+(?:{CONTACT_APPS})\s*(?:id|handle|username|user\s+name|number|info|details)\b",
    rf"\bmy\s+(?:{CONTACT_APPS})(?:\s+is|\s*:)\s*(?:{HANDLE})",
    rf"\b(?:{CONTACT_APPS})\s*(?:id|handle|username|user\s+name)?\s*(?:is|:)\s*(?:{HANDLE})",
    rf"\b(?:i'?m|im|i\s+am)\s+on\s+(?:{CONTACT_APPS})\s+(?:as\s+)?(?:{HANDLE})",
    rf"(?:{SOLICIT})\s*(?:{CONTACT_APPS})\b",
    rf"{ASK_TO_MOVE}\s+(?:\S+\s+){{0,4}}?(?:on|over|via|to|through|thru|using|use)\s+(?:{CONTACT_APPS})\b",
    rf"{ASK_TO_MOVE}\s+(?:just\s+)?(?:{CONTACT_VERBS})\b",
    rf"{ASK_TO_MOVE}\s+(?:just\s+)?(?:do|have|hop\s+on|jump\s+on|set\s+up)\s+(?:a\s+)?(?:quick\s+)?"
    rf"(?:{CONTACT_APPS})\b",
    rf"\b(?:{CONTACT_APPS})\s+(?:works|is\s+(?:best|easier|better|fine|ok|okay))\b",
    rf"\b(?:send|sending|share|here'?s|here\s+is|join|use|click)\s+(?:{YOU}\s+)?(?:a|the|my|this)?\s*"
    rf"(?:{CONTACT_APPS})\s+(?:link|invite|invitation|meeting|room)\b",
    # phone contact without an app
    rf"\b(?:text|txt|sms)\s+{ME}\b(?!{ON_PLATFORM}|\s+here\b)",
    rf"\b(?:shoot|send|drop|give)\s+{ME}\s+a\s+(?:text|txt|call|ring|sms)\b(?!{ON_PLATFORM})",
    r"\bcall\s+(?:me|us)\s+(?:on|at)\s+(?:my\s+)?(?:personal\s+|private\s+)?(?:cell|phone|mobile|number|landline|home)\b",
    r"\b(?:call|text|txt|ring)\s+(?:my|your|ur)\s+(?:personal\s+|private\s+|own\s+)?(?:cell|phone|mobile|number|landline)\b",
    rf"\b(?:call|text|txt|ring|reach)\s+{YOU}\s+(?:on|at)\s+(?:your|ur)\s+(?:personal\s+|private\s+|own\s+|home\s+)?"
    r"(?:cell|phone|mobile|number|landline)\b",
    r"\b(?:reach|contact)\s+me\s+(?:on|at)\s+my\s+(?:personal\s+|private\s+)?(?:cell|phone|mobile|number|email)\b",
    r"\b(?:what'?s|whats|what\s+is|can\s+i\s+(?:have|get)|could\s+i\s+(?:have|get)|may\s+i\s+have|give\s+me|"
    r"send\s+me|share)\s+(?:your|ur)\s+(?:personal\s+|private\s+|own\s+|real\s+|home\s+)?"
    r"(?:cell|phone|mobile|number|email|e-mail|whatsapp)\b(?!\s+(?:policy|policies|hours|settings))",
    rf"\bcan\s+i\s+(?:text|txt)\s+{YOU}\b(?!{ON_PLATFORM}|\s+here\b)",
    # asking for, or offering, a number or address: "do you have a work cell?", "I'll give you my number"
    rf"(?:{SOLICIT})\s*(?:work\s+|personal\s+|private\s+|home\s+|own\s+|cell\s+)?(?:cell|mobile|phone\s+number|"
    r"number|email|e-mail)\b(?!\s+(?:for|policy|policies|hours|settings))",
    rf"\b(?:give|send|text|dm|share|leave)\s+{YOU}\s+my\s+(?:personal\s+|private\s+|cell\s+|home\s+|work\s+)?"
    r"(?:number|cell|phone|email|e-mail)\b",
    rf"\b(?:send|sending)\s+{YOU}\s+an?\s+(?:{CONTACT_APPS})\b",
    rf"{ASK_TO_MOVE}\s+(?:\S+\s+){{0,3}}?(?:to|do|have)\s+(?:a\s+)?(?:regular\s+|normal\s+)?phone\s+calls?\b",
    rf"\b(?:number|cell|phone|email)\s+to\s+(?:reach|call|text|contact)\s+{YOU}\b",
    rf"\b(?:reach|contact|call|text|message|talk\s+to)\s+(?:{YOU}|me)\b(?:\s+\S+){{0,3}}?\s+outside\s+(?:of\s+)?"
    r"(?:the|this)\s+(?:app|platform|portal)\b",
    # a stated preference for another channel: "I'd feel safer talking on Signal"
    r"\b(?:comfortable|easier|better|safer|prefer|rather)\b(?:\s+\S+){0,5}?\s+(?:talk|talking|chat|chatting|speak|"
    rf"speaking|meet|meeting|message|messaging|text|texting)\s+(?:on|over|via|through)\s+(?:{CONTACT_APPS})\b",
)

#: every contact cue above contains one of these words; a message without any skips the cue scan
CONTACT_TRIGGERS: Final = word_set(
    "whatsapp whats signal telegram snap snapchat chat wechat weixin skype zoom meet facetime face "
    "discord viber kik imessage messenger teams webex hmu text txt sms call ring cell phone mobile number "
    "landline home email mail"
)

# --- social media ------------------------------------------------------------------------------------

SOCIAL_CUES = any_of(
    rf"\b(?:follow|add|friend|find|look|dm|message|connect\s+with|catch|hit)\s+{ME}(?:\s+(?:up|back))?\s+"
    rf"(?:on|via|over|at|through)\s+(?:my\s+)?(?:{SOCIAL_APPS})\b",
    rf"\b(?:follow(?:ed)?|add(?:ed)?|adding|friend(?:ed)?|connect(?:ed)?\s+with|find|found|request(?:ed)?\s+to\s+follow|"
    r"dm|message|msg|tag(?:ged)?)"
    rf"\s+{YOU}\s+(?:\S+\s+){{0,3}}?(?:on|via|in)\s+(?:my\s+|your\s+|a\s+)?(?:{SOCIAL_APPS})\b",
    rf"\b(?:sent|send|sending)\s+{YOU}\s+a\s+(?:friend|follow)\s+request\b",
    r"\baccept\s+my\s+(?:friend|follow)\s+request\b",
    rf"\bmy\s+(?:{SOCIAL_APPS})\s*(?:handle|username|user\s+name|page|account|profile|id)?\s*(?:is|:)\s*(?:{HANDLE})",
    rf"(?:{SOLICIT})\s*(?:{SOCIAL_APPS})\b",
    rf"\b(?:be|become|stay)\s+friends\s+on\s+(?:{SOCIAL_APPS})\b",
    rf"\b(?:let'?s|lets|can\s+we|could\s+we|shall\s+we|should\s+we|we\s+(?:could|can|should))\s+(?:\S+\s+){{0,2}}?"
    r"(?:connect|follow\s+each\s+other|talk|chat|keep\s+in\s+touch|stay\s+in\s+touch)\s+(?:on|via|over)\s+"
    rf"(?:{SOCIAL_APPS})\b",
    rf"\b(?:follow|like|subscribe\s+to|check\s+out)\s+(?:my|our|your)\s+(?:\S+\s+){{0,2}}?"
    rf"(?:{SOCIAL_APPS}|page|account|channel|profile)\b",
    r"\bfollow\s+@[a-z0-9_.]{2,}",
    r"\b(?:instagram|insta|facebook|tik\s?tok|twitter|linked\s?in|threads|youtube)\s*(?:handle|username|page)?\s*"
    rf"(?:is|:)\s*(?:{HANDLE})",
    rf"\b(?:i'?m|im|i\s+am)\s+on\s+(?:{SOCIAL_APPS})\s+(?:as\s+)?(?:{HANDLE})",
)
#: every social cue above contains one of these words
SOCIAL_TRIGGERS: Final = word_set(
    "instagram insta ig facebook fb tik tiktok twitter x linked linkedin threads bereal youtube pinterest "
    "reddit bluesky follow request friends like subscribe check"
)
#: following or inviting in so many words; social only when the message names a network
SOCIAL_INVITE = re.compile(
    r"\b(?:sent|send|sending)\s+an?\s+(?:friend|follow)\s+request\b|"
    r"\b(?:follow|friend|add|dm|subscribe\s+to)\s+(?:me|us)\b|"
    r"\b(?:follow(?:ing|ed)?|friend(?:ed)?|add(?:ed|ing)?|tag(?:ged)?|dm|subscribed\s+to)\s+(?:you|u)\b"
)
#: invitations that name no app: they count for whichever category the message names (with a handle)
FOLLOW_BACK = re.compile(r"\bfollow\s+(?:me\s+)?back\b|\bfollow\s+for\s+follow\b|\bf4f\b")
THERE_CUE = re.compile(
    rf"\b(?:add|message|msg|dm|pm|text|call|ping|find|follow|reach|hit|talk)\s+(?:{ME}\s+)?(?:up\s+)?(?:there|on\s+there)\b"
)
CONTACT_APP_WORD = re.compile(rf"\b(?:{CONTACT_APPS})\b")
SOCIAL_APP_WORD = re.compile(rf"\b(?:{SOCIAL_APPS})\b")
AT_HANDLE = re.compile(r"(?<![\w.])@[a-z0-9_][a-z0-9_.]{2,}")
OWNING = re.compile(r"\b(?:my|mine|i'?m|im|both|follow|add|find)\b")

# --- payment requests --------------------------------------------------------------------------------

PAYMENT_CUES = any_of(
    rf"\b(?:venmo|zelle|paypal|cash\s?app)\s+(?:{ME}|{YOU}|it|the)\b",
    rf"\bmy\s+(?:{PAY_APPS})\s*(?:handle|username|name|id|tag|cashtag|account)?\s*(?:is|:)\s*(?:[$@]?{HANDLE})",
    rf"\b(?:send|pay|transfer|wire|tip)\b(?:\s+\S+){{0,6}}?\s+(?:on|via|through|thru|with|by|to|using|over|in)\s+"
    rf"(?:my\s+|your\s+|the\s+same\s+)?(?:{PAY_APPS})\b",
    rf"\bwhat(?:'s|s|\s+is|\s+are)\s+your\s+(?:{PAY_APPS}|cashtag|bank\s+(?:details|info|information))\b",
    rf"\b(?:do|d)\s*{YOU}\s+(?:take|accept|have|use|do)\s+(?:{PAY_APPS})\b",
    rf"\b(?:is|are)\s+(?:{PAY_APPS})\s+(?:ok|okay|fine|good|alright|cool)\b",
    rf"\b(?:{PAY_APPS})\s+(?:works|is\s+(?:fine|easier|ok|okay|best))\b",
    rf"\b(?:i|we)\s+(?:also\s+)?(?:take|accept)\s+(?:{PAY_APPS})\b",
    rf"\b(?:on|to)\s+my\s+(?:personal\s+|business\s+|own\s+)?(?:{PAY_APPS})\b",
    r"\b(?:venmo|zelle|paypal|cash\s?app)\s+(?:right\s+now|now|tonight|today|later|instead)\b",
    r"\b(?:venmo|zelle|paypal|cash\s?app)\s*(?:[:(-]\s*)?[@$][a-z0-9]",
    r"\b(?:your|ur)\s+(?:bank\s+)?(?:account|routing)\s+(?:number|details|info)\b",
    rf"\b(?:venmo|cash\s?app|paypal|pay\s?pal|zelle)\s*(?:handle|username|id|tag|cashtag)?\s*(?:is|:)\s*(?:[$@]?{HANDLE})",
    # paying the person rather than the platform
    rf"\bpay\s+(?:{ME}|{YOU})\s+(?:directly|direct|personally|privately|outside|off\s+the|under\s+the|back|"
    rf"cash|crypto|bitcoin|(?:with|in|via|by|using)\s+(?:cash|crypto|bitcoin|check|cheque|gift\s+cards?))\b(?!{ON_PLATFORM})",
    r"\bpay\s+(?:it\s+|the\s+\S+\s+)?(?:directly|privately|personally)\s+to\s+me\b",
    r"\b(?:made|make|write)\s+(?:it\s+)?out\s+to\s+me\b",
    r"\bsend\s+(?:the\s+)?payment\s+directly\b",
    rf"\b(?:give|hand|bring)\s+{YOU}\s+(?:the\s+)?(?:cash|money|payment|check|cheque)\b",
    rf"\be-?transfer\s+(?:{YOU}|it|the)\b|\binterac\b",
    r"\bgift\s+cards?\b(?:\s+\S+){0,3}?\s+(?:as\s+)?payment\b",
    r"\b(?:transfer|wire|send|deposit)\b(?:\s+\S+){0,5}?\s+(?:to|into)\s+your\s+(?:bank|account|checking|savings)\b",
    # bank details
    r"\brouting\s*(?:number|no\.?|#|and\s+account)?\b|\baccount\s+(?:and|&)\s+routing\b|\bsort\s+code\b|"
    r"\bswift\s*(?:code)?\s*:|\biban\b",
    r"\bbank\s+(?:details|info|information|wire)\b|\b(?:via|by)\s+(?:bank|wire)\s+transfer\b|"
    r"\bbank\s+transfer\s+(?:is|works)\b|\bwire\s+(?:it|the\s+money|the\s+payment|funds)\b",
    r"\bdirect\s+deposit\s+(?:to|into)\s+(?:my|our)\b",
    r"\b(?:wallet\s+address|(?:crypto|bitcoin|btc|eth)\s+wallet)\b",
)
#: every payment cue above contains one of these words
PAYMENT_TRIGGERS: Final = word_set(
    "venmo cash cashapp paypal pal zelle apple google gpay western moneygram crypto bitcoin btc ethereum "
    "eth usdt usdc pay send transfer wire tip routing sort swift iban bank deposit wallet out payment give hand bring "
    "cashtag interac gift"
)
#: money handed to the person: "mail a check directly to me" (only where the message is about money)
TO_ME_DIRECTLY = re.compile(r"\b(?:directly|straight|personally)\s+to\s+me\b")
MONEY_NOUNS: Final = word_set("pay paying payment check cheque cash money fee fees balance copay invoice rate")

# --- negation ----------------------------------------------------------------------------------------

#: words that may sit between a negation and the cue it governs ("don't want you to text me")
NEGATION_GAP = r"(?:just|really|ever|even|want|wanna|need|have|like|you|u|to|please|ask|asking|let|be|go|i|me)"
NEGATED = re.compile(
    r"\b(?:don'?t|do\s+not|never|can'?t|cannot|won'?t|will\s+not|shouldn'?t|should\s+not|not|doesn'?t|didn'?t|"
    rf"isn'?t|aren'?t|wouldn'?t|stop|used\s+to)\s+(?:{NEGATION_GAP}\s+){{0,3}}$"
)


def affirmed(text: str, start: int) -> bool:
    """False when a negation or a reported past ("used to") governs the cue: "I can't accept Venmo"."""
    return NEGATED.search(text, max(0, start - 40), start) is None


def any_affirmed(pattern: re.Pattern[str], text: str) -> bool:
    return any(affirmed(text, m.start()) for m in pattern.finditer(text))
