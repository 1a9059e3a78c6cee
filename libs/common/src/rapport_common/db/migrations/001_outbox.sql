-- Transactional outbox: events written in the same transaction as the state change that caused them.
-- A single relay (leader by advisory lock) publishes pending rows in id order and marks them published.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    event_id      text        NOT NULL UNIQUE,
    event_type    text        NOT NULL,
    topic         text        NOT NULL,
    key           bytea       NOT NULL,
    value         bytea       NOT NULL,
    headers       jsonb       NOT NULL DEFAULT '[]'::jsonb,
    state         text        NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'published', 'failed')),
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE state = 'pending';

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rapport_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify_after_insert
    AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
