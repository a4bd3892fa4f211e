-- The member rows of a directory are written by one writer only: the
-- directory commit (`commit_directory`), which plans every change against
-- the corp's whole directory in memory (a membership names an existing
-- member and department; a deleted member's memberships go first) and runs
-- at the version it planned against. The per-row foreign-key checks below
-- repeated that work inside PostgreSQL for every imported member (three
-- index probes per row through the trigger machinery, about half of the
-- server's time in a 100,000-member import); they are dropped here.
-- Loading a directory still refuses a membership that names no member or
-- department (`qiye-store` `directory::load`), so a writer bug cannot go
-- unnoticed.
ALTER TABLE member_departments DROP CONSTRAINT member_departments_corp_id_userid_fkey;
ALTER TABLE member_departments DROP CONSTRAINT member_departments_corp_id_dept_id_fkey;
ALTER TABLE members DROP CONSTRAINT members_corp_id_fkey;
