-- Monitor kinds: each monitor's kind-specific settings (assertions, tcp/tls host and port, dns
-- name and expectations, heartbeat period), as the kind's plain JSON object; degraded checks
-- (up, but slower than the monitor's degraded_latency_ms).
ALTER TABLE monitors ADD COLUMN config jsonb NOT NULL DEFAULT '{}';
ALTER TABLE check_results DROP CONSTRAINT check_results_status_check;
ALTER TABLE check_results ADD CONSTRAINT check_results_status_check CHECK (status IN ('up', 'down', 'degraded'));
