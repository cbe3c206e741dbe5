-- What happened to an incident that no other table records: dead-letter replays of its
-- notifications (by whom), and later reminders, escalations and notes. The timeline
-- (GET /incidents/{id}/timeline) merges these with the incident's own times and the delivery
-- attempts of its notifications.
CREATE TABLE incident_activity (
    id          uuid PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL,
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_activity_incident ON incident_activity (incident_id, at);
