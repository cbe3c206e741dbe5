-- Status events are applied in the order the status machine produced them (DESIGN.md, "In
-- order per monitor"). `seq` comes from one sequence, drawn inside the check batch's
-- transaction while the monitor's `monitor_state` row is locked, so a monitor's events get
-- increasing numbers in the order they were produced and are committed in that order. The
-- status-change worker applies every unapplied event of a monitor up to the one it was handed,
-- in `seq` order, so an event whose publication was delayed is applied before its successors
-- and is a no-op when it finally arrives.
CREATE SEQUENCE status_events_seq AS bigint;
ALTER TABLE status_events ADD COLUMN seq bigint;
UPDATE status_events s SET seq = o.n
  FROM (SELECT id, row_number() OVER (ORDER BY created_at, occurred_at, id) AS n FROM status_events) o
 WHERE o.id = s.id;
SELECT setval('status_events_seq', coalesce((SELECT max(seq) FROM status_events), 0) + 1, false);
ALTER TABLE status_events
  ALTER COLUMN seq SET DEFAULT nextval('status_events_seq'),
  ALTER COLUMN seq SET NOT NULL;
ALTER SEQUENCE status_events_seq OWNED BY status_events.seq;
CREATE UNIQUE INDEX status_events_seq_key ON status_events (seq);
CREATE INDEX status_events_unapplied_by_monitor ON status_events (monitor_id, seq) WHERE applied_at IS NULL;

-- The incident an applied event opened, joined or resolved, so a redelivery finds it again.
ALTER TABLE status_events ADD COLUMN incident_id uuid;
UPDATE status_events s SET incident_id = i.id
  FROM incidents i WHERE i.opened_event_id = s.id OR i.resolved_event_id = s.id;

-- The seq of the event that opened an incident: an `up` resolves only an incident opened by an
-- earlier event, never one newer than itself.
ALTER TABLE incidents ADD COLUMN opened_seq bigint;
UPDATE incidents i SET opened_seq = s.seq FROM status_events s WHERE s.id = i.opened_event_id;
