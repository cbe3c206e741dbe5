-- check_results becomes range-partitioned by due_at, one partition per UTC day, created ahead
-- by the monitoring worker (upcheck_store::partitions) and dropped whole past
-- RETENTION_RAW_DAYS. The partition key is due_at, not checked_at: a redelivered job carries
-- the same due time (it is re-probed, so its checked_at differs), so it lands in the same
-- partition, whose unique index (monitor_id, job_id, region) keeps redelivery idempotent.
--
-- The table as it stands (every check stored so far) becomes the partition of every day before
-- the bound V22 set, `check_results_legacy`, as it is: no row is copied.
--
-- 1. The validation scans the old rows under SHARE UPDATE EXCLUSIVE: checks keep being stored
--    and read meanwhile.
ALTER TABLE check_results VALIDATE CONSTRAINT check_results_legacy_bound;

-- 2. The one short lock, from here to the commit: renames, the new parent and the attachment.
--    The validated constraint proves the partition bound, so the attachment scans nothing; the
--    old time index matches the parent's and is attached rather than built.
LOCK TABLE check_results IN ACCESS EXCLUSIVE MODE;
ALTER TABLE check_results RENAME TO check_results_legacy;
ALTER INDEX check_results_pkey RENAME TO check_results_legacy_pkey;
ALTER INDEX check_results_time RENAME TO check_results_legacy_time;

-- Fixed-width columns first: no alignment padding between them (8 bytes less per row than the
-- old order). A partition's own columns may be ordered differently; rows are mapped by name.
CREATE TABLE check_results (
    due_at      timestamptz NOT NULL,
    checked_at  timestamptz NOT NULL,
    monitor_id  uuid NOT NULL,
    latency_ms  integer,
    http_status smallint,
    job_id      text NOT NULL,
    region      text NOT NULL,
    status      text NOT NULL CONSTRAINT check_results_status_check CHECK (status IN ('up', 'down', 'degraded')),
    error       text
) PARTITION BY RANGE (due_at);

-- A monitor's checks newest first (GET /monitors/{id}/checks) and over a recent window with
-- status and latency in the index (the status pages' bars and uptime figures read only those).
-- The idempotency key is per partition (a unique index must contain the partition key to be
-- declared on the parent): each daily partition gets UNIQUE (monitor_id, job_id, region) when
-- created; the legacy partition keeps its primary key.
CREATE INDEX check_results_time ON check_results (monitor_id, checked_at DESC) INCLUDE (status, latency_ms);

DO $$
DECLARE
    bound timestamptz;
BEGIN
    SELECT substring(pg_get_constraintdef(oid) FROM '''([^'']+)''')::timestamptz INTO STRICT bound
    FROM pg_constraint
    WHERE conname = 'check_results_legacy_bound' AND conrelid = 'check_results_legacy'::regclass;
    EXECUTE format(
        'ALTER TABLE check_results ATTACH PARTITION check_results_legacy FOR VALUES FROM (MINVALUE) TO (%L)',
        bound);
END
$$;

-- Every stored check rewrites its region's row of monitor_region_state. With room left in each
-- page, the new version goes on the same page and no index changes (a HOT update: one WAL
-- record a row, not three or four). Pages written from now on keep 70 % free; the full ones
-- thin out as their rows move. A reloption only: no rewrite, no long lock.
ALTER TABLE monitor_region_state SET (fillfactor = 30);
