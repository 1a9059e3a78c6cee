-- When the monitor's consumer had last read and handled each input partition to its end (any instance's
-- consumer writes the partitions it owns). A consent hold is decided "not covered" only once every input
-- partition was caught up after the hold ended: a grant already published then cannot still be unread
-- (a backlog after an outage or a restart would otherwise end holds whose grants sit unread behind it).
CREATE TABLE consumer_caught_up (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL CHECK (partition >= 0),
    caught_up_at   timestamptz NOT NULL,
    PRIMARY KEY (consumer_group, topic, partition)
);
