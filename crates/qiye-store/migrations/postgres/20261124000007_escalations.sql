-- Escalation of unread urgent messages through a second channel (e-mail,
-- SMS): each corp's policy, and one row per recipient of an urgent message
-- (qiye-domain/src/escalation.rs).

-- A corp without a row uses EscalationPolicy::default(). Flags are 0/1.
CREATE TABLE escalation_policies (
    corp_id            TEXT    NOT NULL PRIMARY KEY REFERENCES corps (corp_id),
    first_after_secs   BIGINT  NOT NULL,
    repeat_every_secs  BIGINT  NOT NULL,
    max_attempts       BIGINT  NOT NULL,
    email              BIGINT  NOT NULL,
    sms                BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL
);

-- Written by append() in the transaction that commits the urgent entry;
-- acknowledged by advance_cursor() when the member's cursor passes it.
CREATE TABLE escalations (
    corp_id      TEXT    NOT NULL,
    conv_id      TEXT    NOT NULL,
    seq          BIGINT  NOT NULL,
    userid       TEXT    NOT NULL,
    sent_at      BIGINT  NOT NULL,
    next_at      BIGINT  NOT NULL,
    attempts     BIGINT  NOT NULL DEFAULT 0,
    failures     BIGINT  NOT NULL DEFAULT 0,
    state        TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'acknowledged', 'exhausted', 'cancelled')),
    -- A node sending an attempt holds the row until then (ms).
    lease_until  BIGINT  NOT NULL DEFAULT 0,
    last_error   TEXT,
    acked_at     BIGINT,
    updated_at   BIGINT  NOT NULL,
    PRIMARY KEY (corp_id, conv_id, seq, userid),
    FOREIGN KEY (corp_id, conv_id, seq) REFERENCES entries (corp_id, conv_id, seq)
);
CREATE INDEX escalations_due ON escalations (next_at) WHERE state = 'pending';
CREATE INDEX escalations_by_member ON escalations (corp_id, conv_id, userid, seq)
    WHERE state = 'pending';
