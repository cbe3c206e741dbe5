-- What the relays need to find, from Postgres alone and within seconds, work that Redis lost.
-- The status-change stream entry an event was last published as: an unapplied event whose
-- entry is gone from the stream was lost with Redis's data and is published again.
ALTER TABLE status_events ADD COLUMN stream_id text;

-- A notification's delivery lease and the job holding it (one job delivers it at a time, so a
-- job enqueued twice delivers once; the holder's own retries may take it again), when its next retry is due, and when the sweep last enqueued it again: a
-- pending notification with none of these recent has lost its job.
ALTER TABLE notifications
  ADD COLUMN lease_until timestamptz,
  ADD COLUMN lease_owner text,
  ADD COLUMN next_attempt_at timestamptz,
  ADD COLUMN enqueued_at timestamptz;
