-- A monitor's stats (`GET /monitors/{id}/stats`: uptime and latency percentiles over 24 h,
-- 7 d or 30 d) read status and latency of every check in the window. With them in the index
-- the read is an index-only scan; without, it fetched one heap page per check, since the
-- checks of many monitors interleave in the table (BENCHMARKS.md, "Profile and fixes").
CREATE INDEX check_results_time_covering ON check_results (monitor_id, checked_at DESC)
    INCLUDE (status, latency_ms);
DROP INDEX check_results_time;
ALTER INDEX check_results_time_covering RENAME TO check_results_time;
