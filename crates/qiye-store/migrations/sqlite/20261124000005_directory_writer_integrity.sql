-- PostgreSQL drops the per-row foreign keys of member rows in this
-- migration (see its file for why). SQLite keeps them: its checks are
-- in-process index probes and cost little, and rebuilding the tables to
-- drop them would gain nothing. The file exists so that both dialects keep
-- the same migration names.
SELECT 1;
