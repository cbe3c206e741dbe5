-- monitor.degraded: each region confirms slowness like it confirms a status (failure_threshold
-- slow checks in a row set `degraded`, recovery_threshold fast ones clear it; `degraded_streak`
-- counts how far a change has got), and a status event carries a slowness notice (NULL for
-- transitions and certificate notices).
ALTER TABLE monitor_region_state
    ADD COLUMN degraded        boolean NOT NULL DEFAULT false,
    ADD COLUMN degraded_streak integer NOT NULL DEFAULT 0;
ALTER TABLE status_events ADD COLUMN degraded jsonb;
