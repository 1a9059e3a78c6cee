-- Idempotent consumer: ids of processed events, written in the same transaction as their effects.
CREATE TABLE inbox (
    consumer      text        NOT NULL,
    event_id      text        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
