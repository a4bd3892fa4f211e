-- Identity for the web app: corp security settings, second-factor state of
-- sessions, TOTP enrolments, recovery codes and sign-in throttling.

-- Every member must use a second factor; the web app shows a watermark.
ALTER TABLE corps ADD COLUMN require_2fa BIGINT NOT NULL DEFAULT 0;
ALTER TABLE corps ADD COLUMN watermark   BIGINT NOT NULL DEFAULT 0;

-- A session signed in with the right password whose member has TOTP is
-- limited to the second-factor step until a code is given.
ALTER TABLE sessions ADD COLUMN second_factor_pending BIGINT NOT NULL DEFAULT 0;

-- One TOTP secret per member (base32; a TOTP secret cannot be hashed, the
-- server recomputes codes from it). Pending until confirmed_at is set.
-- last_step: the newest step whose code was accepted, so a code is used once.
CREATE TABLE member_totp (
    corp_id       TEXT    NOT NULL,
    userid        TEXT    NOT NULL,
    secret        TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    confirmed_at  BIGINT,
    last_step     BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (corp_id, userid)
);

-- Recovery codes, stored as SHA-256 digests; each is used once.
CREATE TABLE recovery_codes (
    corp_id      TEXT    NOT NULL,
    userid       TEXT    NOT NULL,
    code_digest  TEXT    NOT NULL,
    used_at      BIGINT,
    PRIMARY KEY (corp_id, userid, code_digest)
);

-- Failed sign-ins per login (corp + member or typed login) and per client
-- IP: a count in a window from its first failure, and a lock. Kept in the
-- database so a lock holds on every node and across restarts.
CREATE TABLE sign_in_throttle (
    throttle_key  TEXT    PRIMARY KEY,
    window_start  BIGINT  NOT NULL,
    failures      BIGINT  NOT NULL,
    locked_until  BIGINT  NOT NULL DEFAULT 0
);

-- The audit listing filters by corp and walks back by seq.
CREATE INDEX audit_log_by_corp_action ON audit_log (corp_id, action, seq);
