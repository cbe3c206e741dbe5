-- The relay's index of events published and not yet applied no longer covers events that are
-- not published yet, so the status-change worker's lookup of a monitor's earlier unapplied
-- events (upcheck_store::incidents::earlier_unapplied_query) can no longer be planned as a scan of it.
--
-- Before, `status_events_unapplied (published_at) WHERE applied_at IS NULL` matched that
-- lookup's `applied_at IS NULL`, and with no statistics yet (a new database, a burst of first
-- events, autovacuum off or not round yet) the planner estimates an IS NULL predicate at 0.5 %
-- of the rows and may cache a plan that reads the whole index and filters by monitor: every
-- event then read every waiting event. At 100,000 new monitors (100,000 pending → up events)
-- that made applying events quadratic and stalled the check writes behind it
-- (BENCHMARKS.md, 2026-12-07). The relay's query (`published_at < …`, a strict comparison)
-- implies the new predicate, so it keeps its index.
--
-- The index holds only events waiting to be applied (a handful, outside bursts), so building
-- it scans status_events once under a SHARE lock: writers of status events wait for that scan,
-- about a second per million events.
DROP INDEX status_events_unapplied;
CREATE INDEX status_events_unapplied ON status_events (published_at)
    WHERE applied_at IS NULL AND published_at IS NOT NULL;
