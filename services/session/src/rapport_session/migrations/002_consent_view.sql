-- The service's local view of consents, learned from consent.events (the consent service owns consent).
-- Used when the consent service does not answer, so an outage does not stop clients already known to be
-- covered. One row per consent; a revocation or expiry seen before its grant still ends it.
CREATE TABLE consent_view (
    consent_id   text        PRIMARY KEY,
    client_id    text        NOT NULL,
    scope        text        NOT NULL,
    valid_from   timestamptz,            -- NULL until the grant is seen
    valid_until  timestamptz,
    ended_at     timestamptz,            -- the earliest revocation effective_at or expiry seen
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_view_client_scope_idx ON consent_view (client_id, scope);
