-- Messaging: conversations, their gap-free sequences of entries, and each
-- member's read cursor (qiye-domain/src/message).

CREATE TABLE conversations (
    corp_id     TEXT    NOT NULL REFERENCES corps (corp_id),
    conv_id     TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('direct', 'group', 'app', 'appchat')),
    agentid     BIGINT ,
    name        TEXT    NOT NULL DEFAULT '',
    owner       TEXT,
    -- One-to-one and app conversations exist once per pair (PairKey::key).
    pair_key    TEXT,
    -- The sequence of the last entry; append() bumps it in the transaction
    -- that stores the entries, which is what makes sequences gap-free.
    last_seq    BIGINT  NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (corp_id, conv_id)
);
CREATE UNIQUE INDEX conversations_by_pair ON conversations (corp_id, pair_key)
    WHERE pair_key IS NOT NULL;

CREATE TABLE conversation_members (
    corp_id        TEXT    NOT NULL,
    conv_id        TEXT    NOT NULL,
    userid         TEXT    NOT NULL,
    -- Joined in this order (shown so).
    position       BIGINT  NOT NULL,
    read_seq       BIGINT  NOT NULL DEFAULT 0,
    delivered_seq  BIGINT  NOT NULL DEFAULT 0,
    joined_at      BIGINT  NOT NULL,
    PRIMARY KEY (corp_id, conv_id, userid),
    FOREIGN KEY (corp_id, conv_id) REFERENCES conversations (corp_id, conv_id)
);
CREATE INDEX conversation_members_by_user ON conversation_members (corp_id, userid);

-- Members are kept by userid, not by foreign key: history stays when a
-- member is deleted (former_members says who they were).
CREATE TABLE entries (
    corp_id       TEXT    NOT NULL,
    conv_id       TEXT    NOT NULL,
    seq           BIGINT  NOT NULL,
    msgid         TEXT    NOT NULL,
    sender_kind   TEXT    NOT NULL CHECK (sender_kind IN ('member', 'app', 'system')),
    sender        TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    priority      TEXT    NOT NULL,
    -- A WeCom msgtype for messages; 'qiye.recall', 'qiye.card_update',
    -- 'qiye.roster' or 'qiye.update' for control entries.
    msgtype       TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    preview       TEXT    NOT NULL DEFAULT '',
    -- The entry a recall or card update refers to.
    target_seq    BIGINT ,
    -- JSON: media and mentions of a message; who joined and left; ...
    extra         TEXT    NOT NULL DEFAULT '{}',
    at            BIGINT  NOT NULL,
    recalled_at   BIGINT ,
    -- In app conversations (one member): when the member's client got it
    -- and when they read it, for the statistics.
    delivered_at  BIGINT ,
    -- An interactive template card's current `response_code`: what its app
    -- passes to `message/update_template_card` (single use).
    response_code TEXT,
    read_at       BIGINT ,
    PRIMARY KEY (corp_id, conv_id, seq),
    FOREIGN KEY (corp_id, conv_id) REFERENCES conversations (corp_id, conv_id)
);
-- A msgid is unique per conversation: a member's retried send (same
-- client id, same msgid) is refused instead of stored twice.
CREATE UNIQUE INDEX entries_by_msgid ON entries (corp_id, msgid, conv_id);
CREATE INDEX entries_by_response_code ON entries (corp_id, response_code)
    WHERE response_code IS NOT NULL;
CREATE INDEX app_entries_by_time ON entries (corp_id, at) WHERE sender_kind = 'app';

-- WeCom's duplicate check: the digest of a message/send request and the
-- msgid it got, until the check's interval ends.
CREATE TABLE send_digests (
    corp_id  TEXT    NOT NULL,
    agentid  BIGINT  NOT NULL,
    digest   TEXT    NOT NULL,
    msgid    TEXT    NOT NULL,
    until    BIGINT  NOT NULL,
    PRIMARY KEY (corp_id, agentid, digest)
);
CREATE INDEX send_digests_by_expiry ON send_digests (until);
