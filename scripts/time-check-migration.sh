#!/usr/bin/env bash
# Times migrations V22, V23 and V24 (check_results partitioned by due day, and the rollups
# backfilled from the checks already stored) on a database holding
# CHECKS raw checks (default 10,000,000) of MONITORS monitors (default 1,000), as the V21 schema
# stored them, and prints bytes per stored check before and after (a daily partition as written,
# and once its indexes are rebuilt after the day: upcheck_store::partitions::compact_settled).
#
#   scripts/time-check-migration.sh            # PGURL=postgres://postgres@127.0.0.1:5432
#   CHECKS=1000000 scripts/time-check-migration.sh
#
# Each migration file runs in one transaction, as refinery runs it (psql --single-transaction),
# with per-statement timings: in V24 the statements after VALIDATE CONSTRAINT are the only ones
# holding the ACCESS EXCLUSIVE lock (writers and readers wait that long, once). The database
# (upcheck_migration_timing_<pid>) is dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
CHECKS=${CHECKS:-10000000}
MONITORS=${MONITORS:-1000}
DB=upcheck_migration_timing_$$
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
psql "$PGURL/postgres" -c "CREATE DATABASE $DB"
trap 'psql "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
for v in $(seq 1 21); do
  f=$(ls crates/store/migrations/V"${v}"__*.sql 2>/dev/null || true)
  [ -n "$f" ] && psql "$PGURL/$DB" --single-transaction -f "$f"
done
echo "seeding $CHECKS checks of $MONITORS monitors (one a second per monitor, back from now, 1 % down)…"
psql "$PGURL/$DB" <<SQL
INSERT INTO users (id, email, password_hash, role) VALUES ('00000000-0000-7000-8000-000000000001', 'timing@example.com', 'x', 'member');
INSERT INTO monitors (id, owner_id, name, url, interval_seconds, timeout_ms)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, '00000000-0000-7000-8000-000000000001',
       'm' || g, 'http://127.0.0.1:1/', 1, 1000
FROM generate_series(2, $MONITORS + 1) g;
INSERT INTO check_results (monitor_id, job_id, region, due_at, checked_at, status, latency_ms, http_status, error)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(2 + n % $MONITORS), 12, '0'))::uuid,
       (extract(epoch FROM now())::int8 * 1000 - (n / $MONITORS) * 1000) || '-' || (n % $MONITORS),
       'local',
       now() - (n / $MONITORS) * interval '1 second',
       now() - (n / $MONITORS) * interval '1 second' + interval '40 milliseconds',
       CASE WHEN n % 100 = 7 THEN 'down' ELSE 'up' END,
       (5 + (n * 7919) % 300)::int4,
       CASE WHEN n % 100 = 7 THEN 503 ELSE 200 END,
       CASE WHEN n % 100 = 7 THEN 'expected 2xx, got 503' END
FROM generate_series(0::int8, $CHECKS - 1) n;
VACUUM ANALYZE check_results;
SQL
bytes() {
  psql "$PGURL/$DB" -At -c "
    WITH r AS (SELECT '$1'::regclass::oid AS oid)
    SELECT format('%s B per check (%s B table, %s B indexes) over %s checks',
                  round((pg_table_size(oid) + pg_indexes_size(oid))::numeric / n), round(pg_table_size(oid)::numeric / n),
                  round(pg_indexes_size(oid)::numeric / n), n)
    FROM r, (SELECT count(*) AS n FROM $1) c"
}
echo "before (V21 check_results): $(bytes check_results)"
for f in crates/store/migrations/V22__*.sql crates/store/migrations/V23__*.sql crates/store/migrations/V24__*.sql; do
  echo "== $f"
  start=$(date +%s.%N)
  psql "$PGURL/$DB" --single-transaction -c '\timing on' -f "$f" | grep -E '^Time' || true
  echo "whole file: $(echo "$(date +%s.%N) - $start" | bc) s"
done
# After: the same checks written into a daily partition as the worker makes it.
psql "$PGURL/$DB" <<SQL
CREATE TABLE check_results_after (LIKE check_results INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
CREATE UNIQUE INDEX check_results_after_key ON check_results_after (monitor_id, job_id, region);
ALTER TABLE check_results ATTACH PARTITION check_results_after FOR VALUES FROM ('3000-01-01 00:00:00+00') TO ('3000-01-02 00:00:00+00');
INSERT INTO check_results (monitor_id, job_id, region, due_at, checked_at, status, latency_ms, http_status, error)
SELECT monitor_id, job_id, region, due_at - (SELECT min(due_at) FROM check_results_legacy) + timestamptz '3000-01-01 00:00:00+00',
       checked_at, status, latency_ms, http_status, error
FROM check_results_legacy ORDER BY due_at, job_id LIMIT least($CHECKS, 86400 * $MONITORS);
VACUUM ANALYZE check_results_after;
SQL
echo "after (one daily partition, as written): $(bytes check_results_after)"
psql "$PGURL/$DB" -c "REINDEX TABLE CONCURRENTLY check_results_after"
echo "after (the same, once settled and compacted): $(bytes check_results_after)"
