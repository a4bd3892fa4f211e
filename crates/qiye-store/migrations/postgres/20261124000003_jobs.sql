-- Directory jobs run by whichever node claims them, and callbacks to a
-- job's own URL.

-- A job is run under a lease: a node that crashed mid-job lets the lease
-- lapse and another (or the restarted one) runs the job again from its file.
ALTER TABLE import_jobs ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX import_jobs_unfinished ON import_jobs (status, lease_until);

-- An event for a batch job's own callback (`callback{url, token,
-- encodingaeskey}` of batch/syncuser and friends) carries its destination;
-- other events go to their app's configured callback. agentid 0 is the
-- queue of the contacts-sync credential, which is no app.
ALTER TABLE callback_outbox ADD COLUMN dest_url TEXT;
ALTER TABLE callback_outbox ADD COLUMN dest_token TEXT;
ALTER TABLE callback_outbox ADD COLUMN dest_aes_key TEXT;
