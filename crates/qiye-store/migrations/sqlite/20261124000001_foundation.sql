-- Foundation: corps, the root of the directory, apps, credentials, access
-- tokens and the append-only audit log. Every table but audit_log is keyed
-- by corp_id first: a row always belongs to exactly one corp.

CREATE TABLE corps (
    corp_id             TEXT    PRIMARY KEY,
    name                TEXT    NOT NULL,
    plan                TEXT    NOT NULL CHECK (plan IN ('basic', 'professional', 'flagship')),
    rl_corp_per_minute  INTEGER,
    rl_corp_per_hour    INTEGER,
    rl_app_per_minute   INTEGER,
    rl_app_per_hour     INTEGER,
    created_at          INTEGER NOT NULL
) STRICT;

CREATE TABLE departments (
    corp_id     TEXT    NOT NULL REFERENCES corps (corp_id),
    dept_id     INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    parent_id   INTEGER,
    sort_order  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (corp_id, dept_id)
) STRICT;

CREATE TABLE members (
    corp_id               TEXT    NOT NULL REFERENCES corps (corp_id),
    userid                TEXT    NOT NULL,
    name                  TEXT    NOT NULL,
    status                INTEGER NOT NULL,
    password_hash         TEXT,
    must_change_password  INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    PRIMARY KEY (corp_id, userid)
) STRICT;

CREATE TABLE member_departments (
    corp_id     TEXT    NOT NULL,
    userid      TEXT    NOT NULL,
    dept_id     INTEGER NOT NULL,
    sort_order  INTEGER NOT NULL DEFAULT 0,
    is_leader   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (corp_id, userid, dept_id),
    FOREIGN KEY (corp_id, userid) REFERENCES members (corp_id, userid),
    FOREIGN KEY (corp_id, dept_id) REFERENCES departments (corp_id, dept_id)
) STRICT;

CREATE TABLE admins (
    corp_id  TEXT NOT NULL,
    userid   TEXT NOT NULL,
    role     TEXT NOT NULL CHECK (role IN ('super', 'scoped')),
    PRIMARY KEY (corp_id, userid),
    FOREIGN KEY (corp_id, userid) REFERENCES members (corp_id, userid)
) STRICT;

CREATE TABLE apps (
    corp_id          TEXT    NOT NULL REFERENCES corps (corp_id),
    agentid          INTEGER NOT NULL,
    name             TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    all_visible      INTEGER NOT NULL,
    closed           INTEGER NOT NULL DEFAULT 0,
    home_url         TEXT    NOT NULL DEFAULT '',
    redirect_domain  TEXT    NOT NULL DEFAULT '',
    report_location  INTEGER NOT NULL DEFAULT 0,
    report_enter     INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (corp_id, agentid)
) STRICT;

CREATE TABLE credentials (
    corp_id         TEXT    NOT NULL REFERENCES corps (corp_id),
    credential_key  TEXT    NOT NULL,
    secret_digest   TEXT    NOT NULL,
    rotated_at      INTEGER NOT NULL,
    PRIMARY KEY (corp_id, credential_key)
) STRICT;
CREATE UNIQUE INDEX credentials_by_secret ON credentials (corp_id, secret_digest);

CREATE TABLE access_tokens (
    token           TEXT    PRIMARY KEY,
    corp_id         TEXT    NOT NULL,
    credential_key  TEXT    NOT NULL,
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    FOREIGN KEY (corp_id, credential_key) REFERENCES credentials (corp_id, credential_key) ON DELETE CASCADE
) STRICT;
CREATE INDEX access_tokens_by_credential ON access_tokens (corp_id, credential_key, expires_at);

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    corp_id     TEXT    NOT NULL,
    actor_kind  TEXT    NOT NULL,
    actor_id    TEXT    NOT NULL,
    client_ip   TEXT,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    result      TEXT    NOT NULL
) STRICT;
CREATE INDEX audit_log_by_corp ON audit_log (corp_id, seq);

-- Append-only: no update or delete path exists, even for the server itself.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
