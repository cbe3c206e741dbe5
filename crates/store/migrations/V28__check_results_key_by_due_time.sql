-- The idempotency key of check_results' daily partitions becomes (due_at, monitor_id, job_id,
-- region): a redelivered job has the same due time, so the key tells the same jobs apart as
-- (monitor_id, job_id, region) did, and a batch's entries (checks due about now) go together
-- at the index's right end instead of one leaf page per monitor (upcheck_store::partitions::
-- CHECK_RESULTS makes new partitions so).
--
-- Here only partitions that hold no row yet (the days made ahead) are changed: their index is
-- dropped and made again under a lock on that empty partition alone, for the instant of this
-- migration. A partition that holds rows keeps its key until retention drops it (no index is
-- built over rows here: refinery runs a migration in a transaction, where CREATE INDEX
-- CONCURRENTLY cannot run). A partition whose lock is not had at once (someone is reading or
-- writing it) is left as it is.
DO $$
DECLARE
    p text;
    empty boolean;
BEGIN
    FOR p IN
        SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'check_results'::regclass AND c.relname ~ '^check_results_p[0-9]{8}$'
          AND EXISTS (SELECT 1 FROM pg_index x JOIN pg_class k ON k.oid = x.indexrelid
                      WHERE x.indrelid = c.oid AND k.relname = c.relname || '_key'
                        AND pg_get_indexdef(x.indexrelid) LIKE '%(monitor_id, job_id, region)')
        ORDER BY 1
    LOOP
        BEGIN
            EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE NOWAIT', p);
            EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %I)', p) INTO STRICT empty;
            IF empty THEN
                EXECUTE format('DROP INDEX %I', p || '_key');
                EXECUTE format('CREATE UNIQUE INDEX %I ON %I (due_at, monitor_id, job_id, region)', p || '_key', p);
            END IF;
        EXCEPTION WHEN lock_not_available THEN
            RAISE NOTICE 'partition % is busy: it keeps its key', p;
        END;
    END LOOP;
END
$$;
