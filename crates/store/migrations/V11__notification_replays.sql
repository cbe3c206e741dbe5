-- A dead notification replayed from the dead-letter stream gets NOTIFICATION_MAX_ATTEMPTS fresh
-- attempts: attempts made before the replay are counted from attempt_base on (attempt numbers
-- keep increasing, so the attempt log keeps every one).
ALTER TABLE notifications ADD COLUMN attempt_base integer NOT NULL DEFAULT 0;
