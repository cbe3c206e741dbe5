-- The live feed (GET /api/v1/events): every event it sends carries an id from one sequence,
-- status_events_seq, so a client reconnecting with Last-Event-ID is replayed what it missed.
-- A status event's id is its seq; an incident's first acknowledgement draws the next number
-- from the same sequence when it is made.
ALTER TABLE incidents ADD COLUMN acknowledged_seq bigint;
CREATE INDEX incidents_acknowledged_seq ON incidents (acknowledged_seq) WHERE acknowledged_seq IS NOT NULL;
-- A user's events after a given seq, found per monitor rather than by scanning every user's.
CREATE INDEX status_events_monitor_seq ON status_events (monitor_id, seq);
