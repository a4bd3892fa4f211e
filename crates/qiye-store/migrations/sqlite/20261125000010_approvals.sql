-- Approvals (qiye-domain/src/approval/): templates with their immutable
-- published versions, instances with an append-only event log each, the
-- task projection behind the members' lists, and durable timers.

-- A template's draft (JSON, qiye-store/src/approvals/codec.rs) and its
-- latest published version (0 while never published).
CREATE TABLE approval_templates (
    corp_id         TEXT    NOT NULL REFERENCES corps (corp_id),
    template_id     TEXT    NOT NULL,
    draft           TEXT    NOT NULL,
    latest_version  INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (corp_id, template_id)
) STRICT;

-- Published versions never change; an instance keeps its version.
CREATE TABLE approval_template_versions (
    corp_id       TEXT    NOT NULL,
    template_id   TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    definition    TEXT    NOT NULL,
    published_at  INTEGER NOT NULL,
    PRIMARY KEY (corp_id, template_id, version),
    FOREIGN KEY (corp_id, template_id) REFERENCES approval_templates (corp_id, template_id)
) STRICT;

-- The last instance number given per corp and day (sp_no = day || 4 digits).
CREATE TABLE approval_counters (
    corp_id  TEXT    NOT NULL REFERENCES corps (corp_id),
    day      INTEGER NOT NULL,
    last     INTEGER NOT NULL,
    PRIMARY KEY (corp_id, day)
) STRICT;

-- One row per instance; last_seq is the number of its last event, moved
-- only by the commit that appends after it (one writer wins).
CREATE TABLE approval_instances (
    corp_id       TEXT    NOT NULL REFERENCES corps (corp_id),
    sp_no         TEXT    NOT NULL,
    template_id   TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    applicant     TEXT    NOT NULL,
    status        TEXT    NOT NULL
                  CHECK (status IN ('not_started', 'running', 'approved', 'rejected', 'withdrawn')),
    submitted_at  INTEGER NOT NULL,
    finished_at   INTEGER,
    last_seq      INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (corp_id, sp_no),
    FOREIGN KEY (corp_id, template_id, version)
        REFERENCES approval_template_versions (corp_id, template_id, version)
) STRICT;
CREATE INDEX approval_instances_by_time ON approval_instances (corp_id, submitted_at, sp_no);
CREATE INDEX approval_instances_by_applicant
    ON approval_instances (corp_id, applicant, submitted_at, sp_no);

-- The event log: seq 1, 2, 3, ... per instance, never updated.
CREATE TABLE approval_events (
    corp_id   TEXT    NOT NULL,
    sp_no     TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    idem_key  TEXT    NOT NULL,
    actor     TEXT,
    body      TEXT    NOT NULL,
    PRIMARY KEY (corp_id, sp_no, seq),
    FOREIGN KEY (corp_id, sp_no) REFERENCES approval_instances (corp_id, sp_no)
) STRICT;

-- Each command's idempotency key, once per instance, with its events.
CREATE TABLE approval_keys (
    corp_id    TEXT    NOT NULL,
    sp_no      TEXT    NOT NULL,
    idem_key   TEXT    NOT NULL,
    first_seq  INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL,
    PRIMARY KEY (corp_id, sp_no, idem_key),
    FOREIGN KEY (corp_id, sp_no) REFERENCES approval_instances (corp_id, sp_no)
) STRICT;

-- The task projection: a member's record of an instance (record 0: CC'd)
-- and the list it is in. at = when it entered that list (ms).
CREATE TABLE approval_tasks (
    corp_id    TEXT    NOT NULL,
    sp_no      TEXT    NOT NULL,
    record_id  INTEGER NOT NULL,
    userid     TEXT    NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('todo', 'closed', 'done', 'cc')),
    at         INTEGER NOT NULL,
    PRIMARY KEY (corp_id, sp_no, record_id, userid),
    FOREIGN KEY (corp_id, sp_no) REFERENCES approval_instances (corp_id, sp_no)
) STRICT;
-- A member's list, newest first, read from one index range whatever the
-- size of their history.
CREATE INDEX approval_tasks_by_member
    ON approval_tasks (corp_id, userid, state, at, sp_no, record_id);

-- Timers of active activations (due_at in seconds); a claim leases a row
-- until lease_until (ms); the commit that fires it deletes it.
CREATE TABLE approval_timers (
    corp_id      TEXT    NOT NULL,
    sp_no        TEXT    NOT NULL,
    activation   INTEGER NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('remind', 'deadline')),
    due_at       INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (corp_id, sp_no, activation, kind),
    FOREIGN KEY (corp_id, sp_no) REFERENCES approval_instances (corp_id, sp_no)
) STRICT;
CREATE INDEX approval_timers_due ON approval_timers (due_at);
