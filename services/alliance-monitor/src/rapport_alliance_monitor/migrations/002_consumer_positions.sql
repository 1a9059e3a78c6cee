-- Where each consumer group's processing stands per input partition, written in the same transaction as the
-- state the records changed: a record below next_offset has had its effect, so a redelivery is skipped
-- (this replaces an inbox row per event for the monitor's consumer).
CREATE TABLE consumer_positions (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL CHECK (partition >= 0),
    next_offset    bigint      NOT NULL CHECK (next_offset >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);
