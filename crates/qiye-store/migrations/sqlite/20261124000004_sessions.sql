-- Member sessions of the native /api/v1 API, and the version of the
-- member-facing policy (visibility and field rules).

-- Bumped by every change of hidden_departments / field_rules (and their
-- audiences); a node whose cached policy is older reloads it.
ALTER TABLE corps ADD COLUMN policy_version INTEGER NOT NULL DEFAULT 0;

-- One row per signed-in device. The token itself is never stored: only its
-- SHA-256 digest. A session ends after 7 idle days or 30 days in all
-- (qiye-domain/src/session.rs), at sign-out, at a password change or reset,
-- and when the member is deleted.
CREATE TABLE sessions (
    token_digest  TEXT    PRIMARY KEY,
    corp_id       TEXT    NOT NULL,
    userid        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    client_ip     TEXT,
    user_agent    TEXT,
    FOREIGN KEY (corp_id, userid) REFERENCES members (corp_id, userid)
) STRICT;
CREATE INDEX sessions_by_member ON sessions (corp_id, userid);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
