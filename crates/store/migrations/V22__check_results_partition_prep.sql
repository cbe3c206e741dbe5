-- Raw checks become a table range-partitioned by due day (V24). This step takes one brief lock
-- and scans nothing:
--
-- * It bounds the rows of today's table: every check stored from now on is due before the
--   start of the day after tomorrow (UTC), the first day of the daily partitions. The
--   constraint is NOT VALID (old rows are not scanned here); V24 validates it while writes go
--   on, and then attaches this table, whole, as the partition of every day before that
--   (`check_results_legacy`), without a second scan. Retention drops it whole once its last day
--   is older than RETENTION_RAW_DAYS.
-- * It drops the foreign key to monitors: it cost a `SELECT ... FOR KEY SHARE` on the monitor's
--   row per stored check, and deleting a monitor (or its owner) cascaded into one DELETE per
--   check it ever had. The write path stores checks of existing monitors only (it tests
--   `monitors` in the same statement); the checks of a deleted monitor are no longer read by
--   anyone (every read names a monitor its caller owns) and go with their partition.
DO $$
BEGIN
    EXECUTE format(
        'ALTER TABLE check_results ADD CONSTRAINT check_results_legacy_bound CHECK (due_at < %L) NOT VALID',
        date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '2 days');
END
$$;
ALTER TABLE check_results DROP CONSTRAINT check_results_monitor_id_fkey;
