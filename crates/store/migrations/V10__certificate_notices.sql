-- certificate.expiring: a status event carrying the certificate that expires soon (NULL for
-- transitions), and the certificates already reported, so each one is reported once.
ALTER TABLE status_events ADD COLUMN certificate jsonb;
CREATE TABLE certificate_warnings (
    monitor_id  uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    fingerprint text NOT NULL,
    not_after   timestamptz NOT NULL,
    warned_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (monitor_id, fingerprint)
);
