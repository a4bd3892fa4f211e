-- Foundation: corps, the root of the directory, apps, credentials, access
-- tokens and the append-only audit log. Flags are BIGINT 0/1 (not BOOLEAN)
-- so that both dialects decode them alike through sqlx's Any driver. Every table but audit_log is keyed
-- by corp_id first: a row always belongs to exactly one corp.

CREATE TABLE corps (
    corp_id             TEXT    PRIMARY KEY,
    name                TEXT    NOT NULL,
    plan                TEXT    NOT NULL CHECK (plan IN ('basic', 'professional', 'flagship')),
    rl_corp_per_minute  BIGINT,
    rl_corp_per_hour    BIGINT,
    rl_app_per_minute   BIGINT,
    rl_app_per_hour     BIGINT,
    created_at          BIGINT  NOT NULL
);

CREATE TABLE departments (
    corp_id     TEXT    NOT NULL REFERENCES corps (corp_id),
    dept_id     BIGINT  NOT NULL,
    name        TEXT    NOT NULL,
    parent_id   BIGINT,
    sort_order  BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (corp_id, dept_id)
);

CREATE TABLE members (
    corp_id               TEXT    NOT NULL REFERENCES corps (corp_id),
    userid                TEXT    NOT NULL,
    name                  TEXT    NOT NULL,
    status                BIGINT  NOT NULL,
    password_hash         TEXT,
    must_change_password  BIGINT  NOT NULL DEFAULT 0 CHECK (must_change_password IN (0, 1)),
    created_at            BIGINT  NOT NULL,
    PRIMARY KEY (corp_id, userid)
);

CREATE TABLE member_departments (
    corp_id     TEXT    NOT NULL,
    userid      TEXT    NOT NULL,
    dept_id     BIGINT  NOT NULL,
    sort_order  BIGINT  NOT NULL DEFAULT 0,
    is_leader   BIGINT  NOT NULL DEFAULT 0 CHECK (is_leader IN (0, 1)),
    PRIMARY KEY (corp_id, userid, dept_id),
    FOREIGN KEY (corp_id, userid) REFERENCES members (corp_id, userid),
    FOREIGN KEY (corp_id, dept_id) REFERENCES departments (corp_id, dept_id)
);

CREATE TABLE admins (
    corp_id  TEXT NOT NULL,
    userid   TEXT NOT NULL,
    role     TEXT NOT NULL CHECK (role IN ('super', 'scoped')),
    PRIMARY KEY (corp_id, userid),
    FOREIGN KEY (corp_id, userid) REFERENCES members (corp_id, userid)
);

CREATE TABLE apps (
    corp_id          TEXT    NOT NULL REFERENCES corps (corp_id),
    agentid          BIGINT  NOT NULL,
    name             TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    all_visible      BIGINT  NOT NULL CHECK (all_visible IN (0, 1)),
    closed           BIGINT  NOT NULL DEFAULT 0 CHECK (closed IN (0, 1)),
    home_url         TEXT    NOT NULL DEFAULT '',
    redirect_domain  TEXT    NOT NULL DEFAULT '',
    report_location  BIGINT  NOT NULL DEFAULT 0 CHECK (report_location IN (0, 1)),
    report_enter     BIGINT  NOT NULL DEFAULT 0 CHECK (report_enter IN (0, 1)),
    created_at       BIGINT  NOT NULL,
    PRIMARY KEY (corp_id, agentid)
);

CREATE TABLE credentials (
    corp_id         TEXT    NOT NULL REFERENCES corps (corp_id),
    credential_key  TEXT    NOT NULL,
    secret_digest   TEXT    NOT NULL,
    rotated_at      BIGINT  NOT NULL,
    PRIMARY KEY (corp_id, credential_key)
);
CREATE UNIQUE INDEX credentials_by_secret ON credentials (corp_id, secret_digest);

CREATE TABLE access_tokens (
    token           TEXT    PRIMARY KEY,
    corp_id         TEXT    NOT NULL,
    credential_key  TEXT    NOT NULL,
    issued_at       BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    FOREIGN KEY (corp_id, credential_key) REFERENCES credentials (corp_id, credential_key) ON DELETE CASCADE
);
CREATE INDEX access_tokens_by_credential ON access_tokens (corp_id, credential_key, expires_at);

CREATE TABLE audit_log (
    seq         BIGSERIAL PRIMARY KEY,
    at          BIGINT  NOT NULL,
    corp_id     TEXT    NOT NULL,
    actor_kind  TEXT    NOT NULL,
    actor_id    TEXT    NOT NULL,
    client_ip   TEXT,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    result      TEXT    NOT NULL
);
CREATE INDEX audit_log_by_corp ON audit_log (corp_id, seq);

-- Append-only: no update or delete path exists, even for the server itself.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
