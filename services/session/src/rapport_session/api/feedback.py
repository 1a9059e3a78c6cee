"""Routes of feedback capture inside a session (``use_cases.feedback``): only the client fills these in,
in their own session; nothing is recorded without their ``measurement-feedback`` consent."""

from __future__ import annotations

from fastapi import APIRouter

from rapport_session.api.deps import CallerDep, ConsentDep, TransactionsDep
from rapport_session.models import FeedbackResult, OrsRequest, PulseRequest, SrsRequest, WaiRequest
from rapport_session.use_cases import feedback

router = APIRouter(prefix="/sessions/{session_id}/feedback", tags=["feedback"])


@router.post("/srs", status_code=201, response_model=FeedbackResult)
async def submit_srs(
    session_id: str, body: SrsRequest, caller: CallerDep, transactions: TransactionsDep, consent: ConsentDep
) -> FeedbackResult:
    """Session Rating Scale, at the end of a session (running or just ended)."""
    return await feedback.submit_srs(
        transactions, principal=caller, session_id=session_id, request=body, consent=consent
    )


@router.post("/ors", status_code=201, response_model=FeedbackResult)
async def submit_ors(
    session_id: str, body: OrsRequest, caller: CallerDep, transactions: TransactionsDep, consent: ConsentDep
) -> FeedbackResult:
    """Outcome Rating Scale, at the start of a session (in the waiting room or once running)."""
    return await feedback.submit_ors(
        transactions, principal=caller, session_id=session_id, request=body, consent=consent
    )


@router.post("/pulse", status_code=201, response_model=FeedbackResult)
async def submit_pulse(
    session_id: str, body: PulseRequest, caller: CallerDep, transactions: TransactionsDep, consent: ConsentDep
) -> FeedbackResult:
    """One-tap in-session check; only while the session is running, as often as asked."""
    return await feedback.submit_pulse(
        transactions, principal=caller, session_id=session_id, request=body, consent=consent
    )


@router.post("/wai", status_code=201, response_model=FeedbackResult)
async def submit_wai(
    session_id: str, body: WaiRequest, caller: CallerDep, transactions: TransactionsDep, consent: ConsentDep
) -> FeedbackResult:
    """WAI-SR (12 items, 1-5); subscales goal, task, bond computed here."""
    return await feedback.submit_wai(
        transactions, principal=caller, session_id=session_id, request=body, consent=consent
    )
