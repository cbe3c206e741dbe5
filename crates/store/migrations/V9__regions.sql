-- Regions with quorum: a monitor may list the regions that probe it and how many must see it
-- down; each region keeps its own status machine per monitor, with its latest check's time and
-- outcome, and monitor_state.status becomes the regions' verdict, written only when it changes
-- (its consecutive_*, last_due_at_ms and last_checked_at columns are no longer written: a
-- monitor's last check is its regions' latest).
ALTER TABLE monitors ADD COLUMN regions text[] NOT NULL DEFAULT '{}';
ALTER TABLE monitors ADD COLUMN min_failed_regions smallint;
CREATE TABLE monitor_region_state (
    monitor_id            uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    region                text NOT NULL,
    status                text NOT NULL CHECK (status IN ('pending', 'up', 'down')),
    consecutive_failures  integer NOT NULL DEFAULT 0,
    consecutive_successes integer NOT NULL DEFAULT 0,
    last_due_at_ms        bigint NOT NULL DEFAULT -9223372036854775808,
    last_checked_at       timestamptz,
    last_outcome          text,
    last_error            text,
    PRIMARY KEY (monitor_id, region)
);
