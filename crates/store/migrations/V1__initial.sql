-- Upcheck's initial schema. Times are timestamptz (UTC); ids are UUIDv7 (time-ordered).

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'member')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Refresh tokens are stored as SHA-256 hashes; a token is spent once (rotation).
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    spent_at   timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE monitors (
    id                 uuid PRIMARY KEY,
    owner_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               text NOT NULL,
    kind               text NOT NULL DEFAULT 'http',
    url                text NOT NULL,
    method             text NOT NULL DEFAULT 'GET',
    headers            jsonb NOT NULL DEFAULT '{}',
    body               text,
    interval_seconds   integer NOT NULL CHECK (interval_seconds BETWEEN 1 AND 86400),
    timeout_ms         integer NOT NULL CHECK (timeout_ms BETWEEN 100 AND 60000),
    expected_status    jsonb NOT NULL DEFAULT '["2xx"]',
    failure_threshold  smallint NOT NULL DEFAULT 2,
    recovery_threshold smallint NOT NULL DEFAULT 1,
    paused             boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX monitors_owner ON monitors (owner_id, id);

-- The status machine's memory, one row per monitor, written with each check batch.
CREATE TABLE monitor_state (
    monitor_id            uuid PRIMARY KEY REFERENCES monitors (id) ON DELETE CASCADE,
    status                text NOT NULL CHECK (status IN ('pending', 'up', 'down', 'paused')),
    consecutive_failures  integer NOT NULL DEFAULT 0,
    consecutive_successes integer NOT NULL DEFAULT 0,
    last_due_at_ms        bigint NOT NULL DEFAULT -9223372036854775808,
    last_checked_at       timestamptz,
    changed_at            timestamptz NOT NULL DEFAULT now()
);

-- One row per (job, region): the job's stream id makes redelivery idempotent.
CREATE TABLE check_results (
    monitor_id  uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    job_id      text NOT NULL,
    region      text NOT NULL,
    due_at      timestamptz NOT NULL,
    checked_at  timestamptz NOT NULL,
    status      text NOT NULL CHECK (status IN ('up', 'down')),
    latency_ms  integer,
    http_status smallint,
    error       text,
    PRIMARY KEY (monitor_id, job_id, region)
);
CREATE INDEX check_results_time ON check_results (monitor_id, checked_at DESC);

-- The outbox: a transition is written here in its check's transaction, then published.
CREATE TABLE status_events (
    id           uuid PRIMARY KEY,
    monitor_id   uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    from_status  text NOT NULL,
    to_status    text NOT NULL,
    notify       boolean NOT NULL,
    cause        text,
    occurred_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX status_events_unpublished ON status_events (created_at) WHERE published_at IS NULL;
CREATE INDEX status_events_monitor ON status_events (monitor_id, occurred_at DESC);

CREATE TABLE incidents (
    id                uuid PRIMARY KEY,
    monitor_id        uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    state             text NOT NULL CHECK (state IN ('open', 'resolved')),
    opened_event_id   uuid NOT NULL UNIQUE,
    resolved_event_id uuid UNIQUE,
    opened_at         timestamptz NOT NULL,
    acknowledged_at   timestamptz,
    acknowledged_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    resolved_at       timestamptz,
    cause             text
);
CREATE UNIQUE INDEX incidents_one_open ON incidents (monitor_id) WHERE state = 'open';
CREATE INDEX incidents_monitor ON incidents (monitor_id, opened_at DESC);

CREATE TABLE channels (
    id         uuid PRIMARY KEY,
    owner_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    name       text NOT NULL,
    config     jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channels_owner ON channels (owner_id, id);

CREATE TABLE monitor_channels (
    monitor_id uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    PRIMARY KEY (monitor_id, channel_id)
);
CREATE INDEX monitor_channels_channel ON monitor_channels (channel_id);

-- One row per (status event, channel); id = UUIDv5(event id, channel id).
CREATE TABLE notifications (
    id           uuid PRIMARY KEY,
    event_id     uuid NOT NULL,
    monitor_id   uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    channel_id   uuid REFERENCES channels (id) ON DELETE SET NULL,
    channel_kind text NOT NULL,
    event_type   text NOT NULL,
    payload      jsonb NOT NULL,
    state        text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'dead')),
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz
);
CREATE INDEX notifications_monitor ON notifications (monitor_id, created_at DESC);
CREATE INDEX notifications_event ON notifications (event_id);

-- Every delivery attempt.
CREATE TABLE notification_attempts (
    notification_id uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    attempt         integer NOT NULL,
    attempted_at    timestamptz NOT NULL,
    http_status     smallint,
    latency_ms      integer,
    error           text,
    PRIMARY KEY (notification_id, attempt)
);
