-- Alert rules per monitor–channel link (issue 11, "Rules"): which events notify, a delay before
-- alerting, reminders while an incident is open and unacknowledged, and escalation.
ALTER TABLE monitor_channels
    ADD COLUMN events                 text[]  NOT NULL
        DEFAULT '{monitor.down,monitor.up,certificate.expiring}'
        CHECK (events <@ '{monitor.down,monitor.up,monitor.degraded,certificate.expiring}'::text[]),
    ADD COLUMN delay_minutes          integer NOT NULL DEFAULT 0 CHECK (delay_minutes BETWEEN 0 AND 1440),
    ADD COLUMN reminder_minutes       integer CHECK (reminder_minutes BETWEEN 1 AND 10080),
    ADD COLUMN escalate_after_minutes integer CHECK (escalate_after_minutes BETWEEN 1 AND 10080);

-- The channels an incident has alerted ("engaged"): at once, after their delay, or by escalation.
-- Only these get its reminders and its monitor.up. Part of the incident's timeline.
CREATE TABLE incident_channels (
    incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    channel_id  uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    engaged_at  timestamptz NOT NULL,
    via         text NOT NULL CHECK (via IN ('immediate', 'delayed', 'escalation')),
    PRIMARY KEY (incident_id, channel_id)
);

-- Incidents open when rules arrived alerted every linked channel at once.
INSERT INTO incident_channels (incident_id, channel_id, engaged_at, via)
SELECT i.id, mc.channel_id, i.opened_at, 'immediate'
FROM incidents i JOIN monitor_channels mc ON mc.monitor_id = i.monitor_id
WHERE i.state = 'open'
ON CONFLICT DO NOTHING;

-- Alert timers: the record (a Redis sorted set scored by due time is only the clock, restored
-- from here). n: a reminder's number (1, 2, …), 0 for the others. A timer ends `fired` (with the
-- notification it created, if any), `skipped` (its condition no longer held when due) or
-- `cancelled` (acknowledged or resolved first). Part of the incident's timeline.
CREATE TABLE alert_timers (
    incident_id     uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    channel_id      uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('delayed', 'reminder', 'escalation')),
    n               integer NOT NULL CHECK (n >= 0),
    due_at          timestamptz NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'fired', 'skipped', 'cancelled')),
    notification_id uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    settled_at      timestamptz,
    PRIMARY KEY (incident_id, channel_id, kind, n)
);
CREATE INDEX alert_timers_pending ON alert_timers (due_at) WHERE state = 'pending';
