-- Maintenance windows: one-off (starts_at, ends_at) or recurring (an RFC 5545 RRULE whose
-- occurrences start at dtstart's local wall-clock time in timezone and last duration_minutes).
CREATE TABLE maintenance_windows (
    id               uuid PRIMARY KEY,
    owner_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             text NOT NULL,
    starts_at        timestamptz,
    ends_at          timestamptz,
    rrule            text,
    dtstart          timestamp,
    duration_minutes integer,
    timezone         text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (
        (starts_at IS NOT NULL AND ends_at > starts_at
         AND rrule IS NULL AND dtstart IS NULL AND duration_minutes IS NULL AND timezone IS NULL)
        OR (starts_at IS NULL AND ends_at IS NULL
         AND rrule IS NOT NULL AND dtstart IS NOT NULL AND duration_minutes > 0 AND timezone IS NOT NULL)
    )
);
CREATE INDEX maintenance_windows_owner ON maintenance_windows (owner_id, id);

CREATE TABLE maintenance_window_monitors (
    window_id  uuid NOT NULL REFERENCES maintenance_windows (id) ON DELETE CASCADE,
    monitor_id uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    PRIMARY KEY (window_id, monitor_id)
);
CREATE INDEX maintenance_window_monitors_monitor ON maintenance_window_monitors (monitor_id);

-- A status event applied without its alert: during a maintenance window, or while its monitor
-- was flapping. NULL for events applied as usual.
ALTER TABLE status_events ADD COLUMN suppressed_by text CHECK (suppressed_by IN ('maintenance', 'flapping'));

-- A monitor that went down inside a window, opening no incident: once no window covers it any
-- more and it is still down, the status-change worker opens its incident (a synthetic down
-- event, id UUIDv5(event_id, "maintenance-ended")). Removed by the next up, or by that event.
CREATE TABLE maintenance_held (
    monitor_id uuid PRIMARY KEY REFERENCES monitors (id) ON DELETE CASCADE,
    event_id   uuid NOT NULL,
    cause      text,
    held_at    timestamptz NOT NULL
);
