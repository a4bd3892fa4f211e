-- Directory: member details, tags, former members, app visible ranges,
-- admin scopes, member-facing visibility and field rules, callbacks with
-- their durable outbox, uploaded media and async import jobs.

-- Bumped by every committed directory change; a node whose in-memory copy
-- is older reloads it.
ALTER TABLE corps ADD COLUMN dir_version BIGINT  NOT NULL DEFAULT 0;

ALTER TABLE departments ADD COLUMN name_en TEXT NOT NULL DEFAULT '';
CREATE INDEX departments_by_parent ON departments (corp_id, parent_id);

ALTER TABLE members ADD COLUMN mobile TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN biz_mail TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN main_department BIGINT  NOT NULL DEFAULT 1;
-- The other fields (alias, position, gender, telephone, address, leaders,
-- extattr, ...) as one JSON object: they are read and written whole.
ALTER TABLE members ADD COLUMN profile TEXT NOT NULL DEFAULT '{}';
ALTER TABLE members ADD COLUMN updated_at BIGINT  NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX members_by_mobile ON members (corp_id, mobile) WHERE mobile <> '';
-- A member's departments keep the order they were given in.
ALTER TABLE member_departments ADD COLUMN position BIGINT  NOT NULL DEFAULT 0;
CREATE INDEX member_departments_by_dept ON member_departments (corp_id, dept_id);

-- Members who were deleted: history (audit, messages, approvals) keeps their
-- userid, and this keeps who that was.
CREATE TABLE former_members (
    corp_id     TEXT    NOT NULL REFERENCES corps (corp_id),
    userid      TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    left_at     BIGINT  NOT NULL
);
CREATE INDEX former_members_by_userid ON former_members (corp_id, userid);

CREATE TABLE tags (
    corp_id        TEXT    NOT NULL REFERENCES corps (corp_id),
    tag_id         BIGINT  NOT NULL,
    name           TEXT    NOT NULL,
    owner_agentid  BIGINT ,
    PRIMARY KEY (corp_id, tag_id)
);
CREATE UNIQUE INDEX tags_by_name ON tags (corp_id, name);

CREATE TABLE tag_members (
    corp_id  TEXT    NOT NULL,
    tag_id   BIGINT  NOT NULL,
    userid   TEXT    NOT NULL,
    position BIGINT  NOT NULL,
    PRIMARY KEY (corp_id, tag_id, userid),
    FOREIGN KEY (corp_id, tag_id) REFERENCES tags (corp_id, tag_id),
    FOREIGN KEY (corp_id, userid) REFERENCES members (corp_id, userid)
);

CREATE TABLE tag_departments (
    corp_id  TEXT    NOT NULL,
    tag_id   BIGINT  NOT NULL,
    dept_id  BIGINT  NOT NULL,
    position BIGINT  NOT NULL,
    PRIMARY KEY (corp_id, tag_id, dept_id),
    FOREIGN KEY (corp_id, tag_id) REFERENCES tags (corp_id, tag_id),
    FOREIGN KEY (corp_id, dept_id) REFERENCES departments (corp_id, dept_id)
);

-- An app's visible range when it is not visible to the whole corp.
CREATE TABLE app_ranges (
    corp_id  TEXT    NOT NULL,
    agentid  BIGINT  NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('dept', 'user', 'tag')),
    target   TEXT    NOT NULL,
    PRIMARY KEY (corp_id, agentid, kind, target),
    FOREIGN KEY (corp_id, agentid) REFERENCES apps (corp_id, agentid)
);

CREATE TABLE admin_scopes (
    corp_id  TEXT    NOT NULL,
    userid   TEXT    NOT NULL,
    dept_id  BIGINT  NOT NULL,
    PRIMARY KEY (corp_id, userid, dept_id),
    FOREIGN KEY (corp_id, userid) REFERENCES admins (corp_id, userid)
);

-- "Department D is visible only to ...": one row per hidden department, and
-- its audience (possibly empty: only insiders and admins see it).
CREATE TABLE hidden_departments (
    corp_id  TEXT    NOT NULL REFERENCES corps (corp_id),
    dept_id  BIGINT  NOT NULL,
    PRIMARY KEY (corp_id, dept_id)
);
CREATE TABLE hidden_department_audience (
    corp_id  TEXT    NOT NULL,
    dept_id  BIGINT  NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('dept', 'user', 'tag')),
    target   TEXT    NOT NULL,
    PRIMARY KEY (corp_id, dept_id, kind, target),
    FOREIGN KEY (corp_id, dept_id) REFERENCES hidden_departments (corp_id, dept_id)
);

-- "Field F is readable only by admins and/or ...".
CREATE TABLE field_rules (
    corp_id  TEXT    NOT NULL REFERENCES corps (corp_id),
    field    TEXT    NOT NULL,
    admins   BIGINT  NOT NULL,
    PRIMARY KEY (corp_id, field)
);
CREATE TABLE field_rule_readers (
    corp_id  TEXT    NOT NULL,
    field    TEXT    NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('dept', 'user', 'tag')),
    target   TEXT    NOT NULL,
    PRIMARY KEY (corp_id, field, kind, target),
    FOREIGN KEY (corp_id, field) REFERENCES field_rules (corp_id, field)
);

CREATE TABLE app_callbacks (
    corp_id     TEXT    NOT NULL,
    agentid     BIGINT  NOT NULL,
    url         TEXT    NOT NULL,
    token       TEXT    NOT NULL,
    aes_key     TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (corp_id, agentid),
    FOREIGN KEY (corp_id, agentid) REFERENCES apps (corp_id, agentid)
);

-- Events waiting for (or done with) delivery to an app's callback URL. The
-- payload is the plaintext XML; it is encrypted with the app's current key
-- when sent. Delivered rows stay as the delivery log.
CREATE TABLE callback_outbox (
    seq              BIGSERIAL PRIMARY KEY,
    corp_id          TEXT    NOT NULL,
    agentid          BIGINT  NOT NULL,
    event            TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    lease_until      BIGINT  NOT NULL DEFAULT 0,
    delivered_at     BIGINT ,
    last_error       TEXT
);
CREATE INDEX callback_outbox_pending ON callback_outbox (delivered_at, next_attempt_at);
CREATE INDEX callback_outbox_by_app ON callback_outbox (corp_id, agentid, seq);

CREATE TABLE media (
    corp_id       TEXT    NOT NULL REFERENCES corps (corp_id),
    media_id      TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    filename      TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          BIGINT  NOT NULL,
    sha256        TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    PRIMARY KEY (corp_id, media_id)
);

CREATE TABLE import_jobs (
    corp_id      TEXT    NOT NULL REFERENCES corps (corp_id),
    jobid        TEXT    NOT NULL,
    job_type     TEXT    NOT NULL,
    status       BIGINT  NOT NULL,
    total        BIGINT  NOT NULL DEFAULT 0,
    processed    BIGINT  NOT NULL DEFAULT 0,
    request      TEXT    NOT NULL,
    result       TEXT    NOT NULL DEFAULT '[]',
    agentid      BIGINT ,
    created_at   BIGINT  NOT NULL,
    finished_at  BIGINT ,
    PRIMARY KEY (corp_id, jobid)
);
