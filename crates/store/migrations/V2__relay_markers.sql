-- Lets the relays find work that Redis lost: a status event published but never applied by
-- the status-change worker, and a notification still pending long after its last activity.
ALTER TABLE status_events ADD COLUMN applied_at timestamptz;
UPDATE status_events SET applied_at = published_at WHERE published_at IS NOT NULL;
CREATE INDEX status_events_unapplied ON status_events (published_at) WHERE applied_at IS NULL;
CREATE INDEX notifications_pending ON notifications (created_at) WHERE state = 'pending';
