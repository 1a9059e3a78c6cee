"""In-app messaging between a client and their assigned clinician.

Messages are stored here. When the client's ``message-scanning`` consent is active, the detector
(``domain.message_flags``) looks for off-platform contact, payment requests and social-media invitations;
``message-sent`` carries the flags only, never the text. Without that consent nothing is scanned and the
event carries no flags. Flags are not shown to the sender.
"""

from __future__ import annotations

import uuid

from rapport_common.application.unit_of_work import Idempotency, Outcome, Transactions, UnitOfWork
from rapport_common.auth import Principal
from rapport_common.events.session import MessageFlag, MessageSent, MessageSentData, Participant
from rapport_common.refusal import Refusal
from rapport_session import consent_client as scopes
from rapport_session.consent_client import ConsentClient
from rapport_session.domain.message_flags import MessageFlagConfig, detect_flags
from rapport_session.events import build
from rapport_session.models import MessageRequest, MessageView
from rapport_session.settings import SessionSettings
from rapport_session.store import messages as store
from rapport_session.use_cases.access import assigned_clinician


async def send_message(
    transactions: Transactions,
    *,
    principal: Principal,
    request: MessageRequest,
    idempotency_key: str | None,
    consent: ConsentClient,
    flag_config: MessageFlagConfig,
    settings: SessionSettings,
) -> Outcome:
    """A client writes to their clinician, or a clinician to an assigned client. Emits ``message-sent``.

    Who may write and whether the text is scanned are settled before the message is stored (the consent
    question may go over the network); the store and the event run once per idempotency key."""
    sender = _participant(principal, "send")
    if len(request.body) > settings.message_max_chars:
        raise Refusal(422, "body.body", f"at most {settings.message_max_chars} characters")
    if not request.body.strip():
        raise Refusal(422, "body.body", "must not be blank")
    async with transactions.begin() as uow:
        clinician_id = await assigned_clinician(uow.conn, principal, client_id=request.client_id)
    scanned = await consent.is_active(request.client_id, scopes.SCANNING)
    flags = sorted(detect_flags(request.body, config=flag_config)) if scanned else []
    idempotent = Idempotency("session.message", principal, idempotency_key, request.model_dump(mode="json"))
    return await transactions.command(
        lambda uow: _store(
            uow, request=request, clinician_id=clinician_id, sender=sender, flags=flags, scanned=scanned
        ),
        idempotent=idempotent,
    )


async def list_messages(uow: UnitOfWork, *, principal: Principal, client_id: str, limit: int) -> list[MessageView]:
    """The conversation of a client with their clinician, newest first (participants only)."""
    _participant(principal, "read")
    clinician_id = await assigned_clinician(uow.conn, principal, client_id=client_id)
    rows = await store.conversation(uow.conn, client_id=client_id, clinician_id=clinician_id, limit=limit)
    return [MessageView(**dict(row)) for row in rows]


async def _store(
    uow: UnitOfWork,
    *,
    request: MessageRequest,
    clinician_id: str,
    sender: Participant,
    flags: list[MessageFlag],
    scanned: bool,
) -> Outcome:
    """Store the message and enqueue ``message-sent`` (flags only, never the text)."""
    message_id = str(uuid.uuid4())
    await store.insert(
        uow.conn,
        message_id=message_id,
        client_id=request.client_id,
        clinician_id=clinician_id,
        sender=sender,
        body=request.body,
        flags=flags,
        scanned=scanned,
        sent_at=uow.now,
    )
    data = MessageSentData(
        message_id=message_id,
        client_id=request.client_id,
        clinician_id=clinician_id,
        sender=sender,
        sent_at=uow.now,
        flags=flags,
    )
    await uow.publish(build(MessageSent, client_id=request.client_id, data=data, at=uow.now))
    return Outcome(201, MessageView(message_id=message_id, sender=sender, sent_at=uow.now).model_dump(mode="json"))


def _participant(principal: Principal, verb: str) -> Participant:
    """Only the two parties of a conversation write or read it."""
    if principal.role not in ("client", "clinician"):
        raise Refusal(403, "role", f"{principal.role!r} may not {verb} messages")
    return principal.role  # narrowed just above: client or clinician
