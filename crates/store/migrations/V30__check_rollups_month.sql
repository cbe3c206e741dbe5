-- Month rollups per monitor and region (UTC calendar months), beside the minute, hour and day
-- rows of V23 and in their layout: a window of a year read 365 day rows, each with a histogram
-- of about a hundred entries, for every `/stats` request; with month rows it reads at most 11
-- months, 61 days, 46 hours and the minutes at its ends. A month is closed from its day rows
-- once its last day is (the batch that moves a region's mark into the next month, or the daily
-- housekeeping's sealing), and a check stored late is added to its closed month as to its
-- closed minute, hour and day (crates/store/src/rollups).
CREATE TABLE check_rollups_month (LIKE check_rollups_minute INCLUDING ALL);
ALTER TABLE check_rollups_month ADD FOREIGN KEY (monitor_id) REFERENCES monitors (id) ON DELETE CASCADE;

-- Backfill: every month whose last day is closed (before the month of its region's mark), from
-- the day rows. Reads check_rollups_day once under ACCESS SHARE: workers keep writing meanwhile.
WITH m AS (SELECT r.monitor_id, r.region, date_trunc('month', r.bucket, 'UTC') AS b, r.checks, r.failures,
                  r.degraded, r.latency_count, r.latency_sum, r.latency_min, r.latency_max, r.histogram
                FROM check_rollups_day r JOIN check_rollup_marks k USING (monitor_id, region)
                WHERE r.bucket < date_trunc('month', k.closed_until, 'UTC')),
     h AS (SELECT monitor_id, region, b, array_agg((i << 32) | n ORDER BY i) AS histogram
           FROM (SELECT m.monitor_id, m.region, m.b, e >> 32 AS i, sum(e & 4294967295)::bigint AS n
                 FROM m, unnest(m.histogram) AS e GROUP BY 1, 2, 3, 4) x
           GROUP BY 1, 2, 3)
INSERT INTO check_rollups_month
  (monitor_id, region, bucket, checks, failures, degraded, latency_count, latency_sum, latency_min, latency_max, histogram)
SELECT m.monitor_id, m.region, m.b, sum(m.checks)::int, sum(m.failures)::int, sum(m.degraded)::int,
       sum(m.latency_count)::int, sum(m.latency_sum)::bigint, min(m.latency_min), max(m.latency_max),
       coalesce(min(h.histogram), '{}')
FROM m LEFT JOIN h USING (monitor_id, region, b)
GROUP BY 1, 2, 3;
