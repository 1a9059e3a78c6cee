"""Publishing consent document versions (POST /consents/documents): the database-computed hash, "latest"
as the last publication, grants referencing it, the ledger entry, duplicates, bad input and authorisation.

Every test here runs on its own service and database (``own_consent``): a new version changes which
version a grant picks by default, which the other modules' tests must not see.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import asyncpg
import pytest
from fhir.resources.R4B.bundle import Bundle

from rapport_consent.domain.ledger import ACTIONS


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text(label: str = "") -> str:
    """A unique consent text (so tests never depend on each other's documents)."""
    return f"I agree to the use of my data as described here ({label} {uuid.uuid4()})."


async def publish(service: Any, auth: Any, **body: Any) -> Any:
    return await service.http.post("/consents/documents", json=body, headers=auth("service", "doc-automation"))


async def counts(service: Any) -> tuple[int, int]:
    row = await service.pool.fetchrow(
        """SELECT (SELECT count(*) FROM consent_documents) AS d,
                  (SELECT count(*) FROM ledger_entries WHERE action = 'document.published') AS l"""
    )
    return row["d"], row["l"]


async def test_publish_get_grant_and_ledger(own_consent, register_in, auth, ids) -> None:
    service = own_consent
    # stored exactly as sent (no trimming): the hash is over these bytes, non-ASCII included
    body = f"\n  Einwilligung zur Forschung: Ich stimme zu, dass meine Daten genutzt werden. {uuid.uuid4()}  \n"
    seeded = (await service.http.get("/consents/documents/research/1", headers=auth("client"))).json()
    response = await service.http.post(
        "/consents/documents",
        json={"scope": "research", "title": "  Research consent, second edition ", "body": body},
        headers=auth("service", "doc-automation") | {"X-Request-ID": "req-publish-1"},
    )
    assert response.status_code == 201, response.text
    published = response.json()
    assert published["scope"] == "research"
    assert published["version"] == "2"  # the next whole number after the seeded "1"
    assert published["title"] == "Research consent, second edition"
    assert published["body"] == body
    assert published["content_hash"] == sha256(body)

    # readable alone and in the list, after the untouched first version
    got = await service.http.get("/consents/documents/research/2", headers=auth("operator"))
    assert got.status_code == 200 and got.json() == published
    listed = await service.http.get("/consents/documents", params={"scope": "research"}, headers=auth("client"))
    assert [d["version"] for d in listed.json()] == ["1", "2"]
    assert listed.json()[0] == seeded
    assert seeded["content_hash"] == sha256(seeded["body"])  # the seed's hash is computed the same way

    # a grant made afterwards without a version references the new one; the old one is still grantable
    client_id, _ = await register_in(service)("adult")
    me = auth("client", client_id)
    latest = await service.http.post("/consents", json={"client_id": client_id, "scope": "research"}, headers=me)
    assert latest.status_code == 201, latest.text
    assert (latest.json()["document_version"], latest.json()["document_hash"]) == ("2", sha256(body))
    old = await service.http.post(
        "/consents", json={"client_id": client_id, "scope": "research", "document_version": "1"}, headers=me
    )
    assert (old.json()["document_version"], old.json()["document_hash"]) == ("1", seeded["content_hash"])

    # the publication is a ledger entry; the chain verifies
    auditor = auth("compliance", ids("auditor"))
    entries = (
        await service.http.get(
            "/compliance/ledger", params={"action": "document.published", "scope": "research"}, headers=auditor
        )
    ).json()["entries"]
    [entry] = [e for e in entries if e["request_id"] == "req-publish-1"]
    assert (entry["actor_id"], entry["actor_role"], entry["channel"]) == ("doc-automation", "service", "api")
    assert (entry["client_id"], entry["consent_id"], entry["scope"]) == (None, None, "research")
    assert entry["details"]["version"] == "2"
    assert entry["details"]["content_hash"] == sha256(body)
    assert entry["details"]["title"] == published["title"]
    assert entry["details"]["body_chars"] == len(body)
    verify = (await service.http.get("/compliance/ledger/verify", headers=auditor)).json()
    assert verify["ok"] is True and verify["first_broken"] is None

    # and exports as a valid FHIR AuditEvent (a creation)
    fhir = await service.http.get("/compliance/export/fhir", params={"action": "document.published"}, headers=auditor)
    assert fhir.status_code == 200
    bundle = Bundle.model_validate_json(fhir.text)
    events = [e.resource for e in bundle.entry or [] if e.resource.id == entry["entry_id"]]
    assert len(events) == 1 and events[0].action == "C"


async def test_latest_is_the_last_published_not_the_highest_label(own_consent, register_in, auth) -> None:
    service = own_consent
    client_id, _ = await register_in(service)("adult")
    me = auth("client", client_id)

    async def default_version() -> str:
        grant = await service.http.post(
            "/consents", json={"client_id": client_id, "scope": "third-party-sharing"}, headers=me
        )
        assert grant.status_code == 201, grant.text
        return str(grant.json()["document_version"])

    for version in ("9", "10"):  # as text, "10" < "9"
        assert (
            await publish(service, auth, scope="third-party-sharing", version=version, title="t", body=text())
        ).status_code == 201
    assert await default_version() == "10"
    assert (
        await publish(service, auth, scope="third-party-sharing", version="2026-spring", title="t", body=text())
    ).status_code == 201
    assert await default_version() == "2026-spring"
    auto = await publish(service, auth, scope="third-party-sharing", title="t", body=text())
    assert auto.json()["version"] == "11"  # labels that are not numbers do not count for the next number
    assert await default_version() == "11"


async def test_same_version_twice_is_a_conflict_and_changes_nothing(own_consent, auth) -> None:
    service = own_consent
    first_text = text("first")
    first = await publish(service, auth, scope="message-scanning", version="v-dup", title="first", body=first_text)
    assert first.status_code == 201
    before = await counts(service)
    for body in (text("second"), first_text):  # another text, or the same one: the version is taken
        again = await publish(service, auth, scope="message-scanning", version="v-dup", title="second", body=body)
        assert again.status_code == 409, again.text
        assert again.json()["detail"].startswith("body.version")
        assert "retry-after" not in again.headers  # permanent
    seeded = await publish(service, auth, scope="message-scanning", version="1", title="x", body=text())
    assert seeded.status_code == 409
    assert await counts(service) == before
    stored = (await service.http.get("/consents/documents/message-scanning/v-dup", headers=auth("client"))).json()
    assert (stored["title"], stored["body"]) == ("first", first_text)


async def test_same_text_under_a_new_version_is_fine(own_consent, auth) -> None:
    service = own_consent
    same = text("same")
    one = await publish(service, auth, scope="session-recording", version="same-a", title="t", body=same)
    two = await publish(service, auth, scope="session-recording", version="same-b", title="t", body=same)
    assert (one.status_code, two.status_code) == (201, 201)
    assert one.json()["content_hash"] == two.json()["content_hash"] == sha256(same)


async def test_idempotency_key_replays_the_first_publication(own_consent, auth) -> None:
    service = own_consent
    headers = auth("service", "doc-automation") | {"Idempotency-Key": f"pub-{uuid.uuid4()}"}
    body = {"scope": "alliance-analytics", "title": "Analytics, revised", "body": text("idem")}
    first = await service.http.post("/consents/documents", json=body, headers=headers)
    before = await counts(service)
    retry = await service.http.post("/consents/documents", json=body, headers=headers)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()  # the same (auto-numbered) version, not a second one
    assert await counts(service) == before
    other = await service.http.post("/consents/documents", json=body | {"title": "other"}, headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
    assert await counts(service) == before


async def test_concurrent_publications_of_a_scope_get_distinct_versions(own_consent, auth) -> None:
    service = own_consent
    auto = await asyncio.gather(
        *(publish(service, auth, scope="measurement-feedback", title="t", body=text(str(i))) for i in range(5))
    )
    assert [r.status_code for r in auto] == [201] * 5
    versions = sorted(int(r.json()["version"]) for r in auto)
    assert versions == list(range(versions[0], versions[0] + 5))
    racing = await asyncio.gather(
        *(
            publish(service, auth, scope="measurement-feedback", version="race", title="t", body=text())
            for _ in range(4)
        )
    )
    assert sorted(r.status_code for r in racing) == [201, 409, 409, 409]


BAD = [
    ("unknown scope", {"scope": "astrology"}, "body.scope"),
    ("missing scope", {"scope": None}, "body.scope"),
    ("empty text", {"body": ""}, "body.body"),
    ("whitespace-only text", {"body": " \n\t "}, "body.body"),
    ("text too long", {"body": "x" * 100_001}, "body.body"),
    ("missing text", {"body": None}, "body.body"),
    ("blank title", {"title": "   "}, "body.title"),
    ("title too long", {"title": "t" * 301}, "body.title"),
    ("version with a colon", {"version": "2:a"}, "body.version"),
    ("version with a slash", {"version": "2/3"}, "body.version"),
    ("version with spaces", {"version": "v 2"}, "body.version"),
    ("empty version", {"version": ""}, "body.version"),
    ("version too long", {"version": "v" * 51}, "body.version"),
    ("version as a number", {"version": 3}, "body.version"),
    ("caller-supplied hash", {"content_hash": "0" * 64}, "body.content_hash"),
    ("NUL in the text", {"body": "I agree\x00"}, "body.body"),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD, ids=[c[0] for c in BAD])
async def test_bad_publication(own_consent, auth, case, change, field) -> None:
    service = own_consent
    body = {"scope": "research", "version": f"bad-{uuid.uuid4().hex[:8]}", "title": "t", "body": text()} | change
    before = await counts(service)
    response = await publish(service, auth, **{k: v for k, v in body.items() if v is not None})
    assert response.status_code == 422, response.text
    answer = response.json()
    assert field in [e["field"] for e in answer.get("errors", [])] or answer["detail"].startswith(field), answer
    assert await counts(service) == before


AUTHZ = [
    ("client", 403),
    ("clinician", 403),
    ("supervisor", 403),
    ("compliance", 403),  # compliance reads everything and writes nothing but its own audit reads
    ("operator", 403),  # operators see no consent content
    ("service", 201),  # the document-management automation
    ("anonymous", 401),
]


@pytest.mark.parametrize(("role", "expected"), AUTHZ, ids=[r for r, _ in AUTHZ])
async def test_who_may_publish(own_consent, auth, role, expected) -> None:
    service = own_consent
    headers = {} if role == "anonymous" else auth(role)
    body = {"scope": "research", "version": f"authz-{role}", "title": "t", "body": text(role)}
    before = await counts(service)
    response = await service.http.post("/consents/documents", json=body, headers=headers)
    assert response.status_code == expected, response.text
    after = await counts(service)
    assert after == ((before[0] + 1, before[1] + 1) if expected == 201 else before)


async def test_published_versions_are_immutable_in_the_database(own_consent, auth) -> None:
    service = own_consent
    response = await publish(service, auth, scope="research", version="frozen", title="t", body=text())
    assert response.status_code == 201
    for statement in (
        "UPDATE consent_documents SET body = 'other text' WHERE version = 'frozen'",
        "UPDATE consent_documents SET content_hash = 'x' WHERE version = 'frozen'",
        "DELETE FROM consent_documents WHERE version = 'frozen'",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await service.pool.execute(statement)
    # even a direct INSERT gets the database's hash, and the database checks the label and the text
    # (in a transaction rolled back at the end, so nothing stays behind)
    async with service.pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            stored = await conn.fetchval(
                """INSERT INTO consent_documents (scope, version, title, body, content_hash)
                   VALUES ('research', 'direct', 't', 'text', 'forged') RETURNING content_hash"""
            )
            assert stored == sha256("text")
            for version, body in (("a:b", "text"), ("ok", " \n ")):
                with pytest.raises(asyncpg.CheckViolationError):
                    async with conn.transaction():
                        await conn.execute(
                            """INSERT INTO consent_documents (scope, version, title, body, content_hash)
                               VALUES ('research', $1, 't', $2, '')""",
                            version,
                            body,
                        )
        finally:
            await transaction.rollback()


async def test_the_database_knows_the_ledger_vocabulary(own_consent) -> None:
    """ACTIONS in the code and the CHECK constraint of migration 003 agree; anything else is refused."""
    constraint = await own_consent.pool.fetchval(
        """SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ledger_entries_action_known'"""
    )
    assert sorted(part.split("'")[1] for part in constraint.split("ARRAY[")[1].split(",")) == sorted(ACTIONS)
    with pytest.raises(asyncpg.CheckViolationError):
        await own_consent.pool.execute(
            """INSERT INTO ledger_entries (seq, entry_id, at, actor_id, actor_role, action, channel, prev_hash, hash)
               VALUES (999999999, 'x', now(), 'a', 'service', 'consent.deleted', 'api', 'p-x', 'h-x')"""
        )
