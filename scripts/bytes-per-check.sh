#!/usr/bin/env bash
# Bytes per stored check (table + indexes), as docs/scaling-postgres.md quotes it: migrates a
# scratch database on the Postgres at DATABASE_URL's server, writes ROWS generated checks
# (MONITORS monitors, one check each per second in time order, 1 % down, no error text) into
# check_results, vacuums, prints the sizes (summed over partitions when the table is
# partitioned) and drops the scratch database.
#
# Usage: scripts/bytes-per-check.sh            (ROWS=1000000 MONITORS=1000 by default)
# Needs psql and a built upcheck-api (cargo build -p upcheck-api; UPCHECK_API to override).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
ROWS=${ROWS:-1000000}
MONITORS=${MONITORS:-1000}
API=${UPCHECK_API:-./target/debug/upcheck-api}
DB="upcheck_bytes_$$"
SERVER=${BASE%/*}
QUERY=""
[[ "$BASE" == *\?* ]] && QUERY="?${BASE#*\?}"
SCRATCH="$SERVER/$DB$QUERY"

psql "$BASE" -qc "CREATE DATABASE $DB"
trap 'psql "$BASE" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
DATABASE_URL="$SCRATCH" "$API" migrate >/dev/null
PER=$(( (ROWS + MONITORS - 1) / MONITORS ))
psql "$SCRATCH" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO users (id, email, password_hash, role)
  VALUES ('00000000-0000-7000-8000-000000000001', 'bytes@example.com', 'x', 'member');
INSERT INTO monitors (id, owner_id, name, url, interval_seconds, timeout_ms)
  SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
         '00000000-0000-7000-8000-000000000001', 'm' || g, 'https://example.com/', 60, 5000
  FROM generate_series(1, $MONITORS) g;
INSERT INTO check_results (monitor_id, job_id, region, due_at, checked_at, status, latency_ms, http_status, error)
  SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(m), 12, '0'))::uuid,
         ((extract(epoch FROM now())::bigint - $PER + t) * 1000)::text || '-' || m::text,
         'local',
         to_timestamp(extract(epoch FROM now())::bigint - $PER + t),
         to_timestamp(extract(epoch FROM now())::bigint - $PER + t) + make_interval(secs => 0.05 + random() * 0.2),
         CASE WHEN random() < 0.01 THEN 'down' ELSE 'up' END,
         (20 + random() * 300)::int, 200, NULL
  FROM generate_series(1, $PER) t, generate_series(1, $MONITORS) m;
VACUUM ANALYZE check_results;
SQL
psql "$SCRATCH" -q -P pager=off <<'SQL'
WITH parts AS (SELECT relid FROM pg_partition_tree('check_results') WHERE isleaf
               UNION SELECT 'check_results'::regclass WHERE NOT EXISTS (SELECT 1 FROM pg_partition_tree('check_results'))),
     n AS (SELECT count(*) AS rows FROM check_results)
SELECT n.rows,
       sum(pg_relation_size(p.relid)) AS heap_bytes,
       sum(pg_indexes_size(p.relid)) AS index_bytes,
       round(sum(pg_total_relation_size(p.relid)) / n.rows, 1) AS bytes_per_check,
       round(sum(pg_relation_size(p.relid)) / n.rows, 1) AS heap_per_check,
       round(sum(pg_indexes_size(p.relid)) / n.rows, 1) AS index_per_check
FROM parts p, n GROUP BY n.rows;
SQL
