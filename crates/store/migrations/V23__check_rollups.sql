-- Rollups of check results per monitor and region, per minute, hour and UTC day: counts and a
-- latency histogram (upcheck_domain::rollup: fixed buckets, exact up to 100 ms and within 1 %
-- above), so `/stats`, the latency series and status pages read a few hundred rows whatever the
-- window instead of every raw check.
--
-- `histogram` is sparse: one int8 per non-empty bucket, `(bucket index << 32) | count`, in index
-- order. A minute is closed once, from the raw rows, by the batch that stores a later minute's
-- check for the same monitor and region (crates/store/src/rollups.rs); an hour (a day) once its
-- last minute (hour) is closed. `check_rollup_marks.closed_until` is that boundary per monitor
-- and region: raw checks at or after it are not rolled up yet; a check stored late, before it,
-- is added to the closed rows directly.
CREATE TABLE check_rollups_minute (
    monitor_id    uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    region        text NOT NULL,
    bucket        timestamptz NOT NULL,
    checks        integer NOT NULL,
    failures      integer NOT NULL,
    degraded      integer NOT NULL,
    latency_count integer NOT NULL,
    latency_sum   bigint NOT NULL,
    latency_min   integer,
    latency_max   integer,
    histogram     bigint[] NOT NULL,
    PRIMARY KEY (monitor_id, region, bucket)
);
CREATE TABLE check_rollups_hour (LIKE check_rollups_minute INCLUDING ALL);
ALTER TABLE check_rollups_hour ADD FOREIGN KEY (monitor_id) REFERENCES monitors (id) ON DELETE CASCADE;
CREATE TABLE check_rollups_day (LIKE check_rollups_minute INCLUDING ALL);
ALTER TABLE check_rollups_day ADD FOREIGN KEY (monitor_id) REFERENCES monitors (id) ON DELETE CASCADE;

CREATE TABLE check_rollup_marks (
    monitor_id    uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    region        text NOT NULL,
    closed_until  timestamptz NOT NULL,
    PRIMARY KEY (monitor_id, region)
);

-- The sum of two sparse histograms (the same layout, in index order).
CREATE FUNCTION check_rollup_histogram_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg((k << 32) | n ORDER BY k), '{}')
  FROM (SELECT e >> 32 AS k, sum(e & 4294967295)::bigint AS n FROM unnest(a || b) AS e GROUP BY 1) s
$$;

-- Pauses, for exact uptime (paused time is not monitored time): one row per pause, `resumed_at`
-- NULL while it lasts. Written by pausing and resuming (and by creating a paused monitor).
CREATE TABLE monitor_pauses (
    monitor_id uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    paused_at  timestamptz NOT NULL,
    resumed_at timestamptz,
    PRIMARY KEY (monitor_id, paused_at)
);
INSERT INTO monitor_pauses (monitor_id, paused_at)
SELECT m.id, coalesce(s.changed_at, m.updated_at) FROM monitors m LEFT JOIN monitor_state s ON s.monitor_id = m.id
WHERE m.paused;

-- Status events read per monitor over a window for exact uptime (status_events_monitor covers it).

-- Backfill from the checks stored so far: every minute before the current one is closed.
-- Reads check_results once (no lock beyond ACCESS SHARE: workers keep writing meanwhile; a check
-- of the current minute or later is rolled up by the workers).
-- The histogram's bucket lower bounds (upcheck_domain::rollup::lower_bounds): 0, then each
-- bound plus max(1, bound / 50), up to 2^31 - 1.
CREATE TEMPORARY TABLE rollup_bounds ON COMMIT DROP AS
WITH RECURSIVE b(v) AS (
  SELECT 0::bigint
  UNION ALL
  SELECT v + greatest(1, v / 50) FROM b WHERE v + greatest(1, v / 50) <= 2147483647
)
SELECT array_agg(v::int ORDER BY v) AS lower_bounds FROM b;

INSERT INTO check_rollups_minute
  (monitor_id, region, bucket, checks, failures, degraded, latency_count, latency_sum, latency_min, latency_max, histogram)
SELECT monitor_id, region, minute, sum(n)::int, sum(f)::int, sum(d)::int, sum(lc)::int, sum(ls)::bigint,
       min(lmin), max(lmax),
       coalesce(array_agg((idx::bigint << 32) | lc ORDER BY idx) FILTER (WHERE idx IS NOT NULL), '{}')
FROM (
  SELECT c.monitor_id, c.region, date_trunc('minute', c.checked_at) AS minute,
         width_bucket(greatest(c.latency_ms, 0), (SELECT lower_bounds FROM rollup_bounds)) - 1 AS idx,
         count(*) AS n, count(*) FILTER (WHERE c.status = 'down') AS f,
         count(*) FILTER (WHERE c.status = 'degraded') AS d, count(c.latency_ms) AS lc,
         coalesce(sum(c.latency_ms), 0) AS ls, min(c.latency_ms) AS lmin, max(c.latency_ms) AS lmax
  FROM check_results c
  WHERE c.checked_at < date_trunc('minute', now())
  GROUP BY 1, 2, 3, 4
) g
GROUP BY 1, 2, 3;

INSERT INTO check_rollup_marks (monitor_id, region, closed_until)
SELECT monitor_id, region, max(bucket) + interval '1 minute' FROM check_rollups_minute GROUP BY 1, 2;

WITH m AS (SELECT r.monitor_id, r.region, date_trunc('hour', r.bucket, 'UTC') AS b, r.checks, r.failures,
                  r.degraded, r.latency_count, r.latency_sum, r.latency_min, r.latency_max, r.histogram
                FROM check_rollups_minute r JOIN check_rollup_marks k USING (monitor_id, region)
                WHERE date_trunc('hour', r.bucket, 'UTC') + interval '1 hour' <= k.closed_until),
     h AS (SELECT monitor_id, region, b, array_agg((i << 32) | n ORDER BY i) AS histogram
           FROM (SELECT m.monitor_id, m.region, m.b, e >> 32 AS i, sum(e & 4294967295)::bigint AS n
                 FROM m, unnest(m.histogram) AS e GROUP BY 1, 2, 3, 4) x
           GROUP BY 1, 2, 3)
INSERT INTO check_rollups_hour
  (monitor_id, region, bucket, checks, failures, degraded, latency_count, latency_sum, latency_min, latency_max, histogram)
SELECT m.monitor_id, m.region, m.b, sum(m.checks)::int, sum(m.failures)::int, sum(m.degraded)::int,
       sum(m.latency_count)::int, sum(m.latency_sum)::bigint, min(m.latency_min), max(m.latency_max),
       coalesce(min(h.histogram), '{}')
FROM m LEFT JOIN h USING (monitor_id, region, b)
GROUP BY 1, 2, 3;

WITH m AS (SELECT r.monitor_id, r.region, date_trunc('day', r.bucket, 'UTC') AS b, r.checks, r.failures,
                  r.degraded, r.latency_count, r.latency_sum, r.latency_min, r.latency_max, r.histogram
                FROM check_rollups_hour r JOIN check_rollup_marks k USING (monitor_id, region)
                WHERE date_trunc('day', r.bucket, 'UTC') + interval '1 day' <= k.closed_until),
     h AS (SELECT monitor_id, region, b, array_agg((i << 32) | n ORDER BY i) AS histogram
           FROM (SELECT m.monitor_id, m.region, m.b, e >> 32 AS i, sum(e & 4294967295)::bigint AS n
                 FROM m, unnest(m.histogram) AS e GROUP BY 1, 2, 3, 4) x
           GROUP BY 1, 2, 3)
INSERT INTO check_rollups_day
  (monitor_id, region, bucket, checks, failures, degraded, latency_count, latency_sum, latency_min, latency_max, histogram)
SELECT m.monitor_id, m.region, m.b, sum(m.checks)::int, sum(m.failures)::int, sum(m.degraded)::int,
       sum(m.latency_count)::int, sum(m.latency_sum)::bigint, min(m.latency_min), max(m.latency_max),
       coalesce(min(h.histogram), '{}')
FROM m LEFT JOIN h USING (monitor_id, region, b)
GROUP BY 1, 2, 3;
