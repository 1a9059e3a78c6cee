-- Where the relay last saw its records land, per partition: the base offset of the last batch the broker
-- acknowledged and the relay recorded. After a crash or an uncertain publish, the relay reads the partition
-- from there to find which of its attempted rows are already on the topic, instead of sending them again.
CREATE TABLE outbox_positions (
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    "offset"    bigint  NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
