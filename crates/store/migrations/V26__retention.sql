-- Retention (RETENTION_*): the pruner walks each table in index order, a small batch per
-- DELETE, so it never scans or locks a whole table. Status events are walked by `seq` (its
-- unique index exists); notifications by creation time; refresh-token families by when they
-- ended (expired, or revoked before that).
CREATE INDEX notifications_created ON notifications (created_at, id);
CREATE INDEX refresh_families_ended ON refresh_families ((least(expires_at, coalesce(revoked_at, expires_at))));
