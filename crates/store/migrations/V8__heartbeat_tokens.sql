-- Heartbeat monitors are pinged at /api/v1/heartbeat/{token}: an unguessable token per monitor
-- (NULL for other kinds), looked up on every ping.
ALTER TABLE monitors ADD COLUMN heartbeat_token text;
CREATE UNIQUE INDEX monitors_heartbeat_token ON monitors (heartbeat_token) WHERE heartbeat_token IS NOT NULL;
