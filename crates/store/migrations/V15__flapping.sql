-- A monitor flapping now: more than `threshold` status changes within `window_seconds`. The
-- row goes when the status has held for a whole window (the monitor.stable alert).
CREATE TABLE monitor_flapping (
    monitor_id     uuid PRIMARY KEY REFERENCES monitors (id) ON DELETE CASCADE,
    -- The status event whose change crossed the threshold: it names the episode's alerts.
    episode_id     uuid NOT NULL,
    since          timestamptz NOT NULL,
    last_change_at timestamptz NOT NULL,
    changes        integer NOT NULL,
    window_seconds integer NOT NULL,
    threshold      integer NOT NULL
);
CREATE INDEX monitor_flapping_last_change ON monitor_flapping (last_change_at);
