-- The rollups' histograms also as bytes, the form `/stats` and the latency series read.
--
-- Sent as `bigint[]`, a histogram costs Postgres a function call and an allocation per entry
-- (`array_send`): a 24 h or 365 d window reads 10,000 entries and more, and with them left out
-- the API served 1.4 to 2 times the requests at 32 connections (BENCHMARKS.md, 2026-12-07,
-- seventh session). `histogram_bytes` holds the same entries as one `bytea`, sent as one copy:
-- 6 bytes per entry, in index order, the bucket index (2 bytes) then the count (4 bytes), both
-- big-endian (the low 48 bits of the `bigint` entry; upcheck_domain::rollup::Rollup::add_packed_bytes).
--
-- `histogram` stays the form rollups are merged in (closing, late checks, mends: SQL over
-- `unnest`); a trigger derives `histogram_bytes` from it on every write, so every writer keeps
-- both in step. Rows written before this migration keep `histogram_bytes` NULL and are read from
-- `histogram`. The columns are added without a default: no table rewrite, one short lock each.
CREATE FUNCTION check_rollup_histogram_bytes(h bigint[]) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(string_agg(substr(int8send(e), 3), ''::bytea ORDER BY o), ''::bytea)
  FROM unnest(h) WITH ORDINALITY AS u(e, o)
$$;

CREATE FUNCTION check_rollup_histogram_bytes_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.histogram_bytes := check_rollup_histogram_bytes(NEW.histogram);
  RETURN NEW;
END
$$;

ALTER TABLE check_rollups_minute ADD COLUMN histogram_bytes bytea;
ALTER TABLE check_rollups_hour ADD COLUMN histogram_bytes bytea;
ALTER TABLE check_rollups_day ADD COLUMN histogram_bytes bytea;
ALTER TABLE check_rollups_month ADD COLUMN histogram_bytes bytea;

CREATE TRIGGER check_rollups_minute_histogram_bytes BEFORE INSERT OR UPDATE OF histogram ON check_rollups_minute
  FOR EACH ROW EXECUTE FUNCTION check_rollup_histogram_bytes_sync();
CREATE TRIGGER check_rollups_hour_histogram_bytes BEFORE INSERT OR UPDATE OF histogram ON check_rollups_hour
  FOR EACH ROW EXECUTE FUNCTION check_rollup_histogram_bytes_sync();
CREATE TRIGGER check_rollups_day_histogram_bytes BEFORE INSERT OR UPDATE OF histogram ON check_rollups_day
  FOR EACH ROW EXECUTE FUNCTION check_rollup_histogram_bytes_sync();
CREATE TRIGGER check_rollups_month_histogram_bytes BEFORE INSERT OR UPDATE OF histogram ON check_rollups_month
  FOR EACH ROW EXECUTE FUNCTION check_rollup_histogram_bytes_sync();
