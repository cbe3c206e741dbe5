-- API keys, refresh-token families and disabled users.
--
-- A disabled user's credentials stop working at once: the API reads `disabled_at` with the user
-- on every authenticated request.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;

-- A refresh-token family is one login session: every refresh token rotated from one login
-- belongs to it. Its `expires_at` is fixed at login (refreshing never extends it); replaying a
-- spent token, a logout or disabling the user sets `revoked_at`, which ends every token of it.
CREATE TABLE refresh_families (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text CHECK (revoked_reason IN ('replay', 'logout', 'logout-all', 'disabled'))
);
CREATE INDEX refresh_families_user ON refresh_families (user_id) WHERE revoked_at IS NULL;

-- Spent and expired tokens are of no further use; each live one becomes its own family, so
-- nobody is logged out by the upgrade.
DELETE FROM refresh_tokens WHERE spent_at IS NOT NULL OR expires_at <= now();
ALTER TABLE refresh_tokens ADD COLUMN family_id uuid;
UPDATE refresh_tokens SET family_id = gen_random_uuid();
INSERT INTO refresh_families (id, user_id, created_at, expires_at)
    SELECT family_id, user_id, created_at, expires_at FROM refresh_tokens;
ALTER TABLE refresh_tokens
    ALTER COLUMN family_id SET NOT NULL,
    ADD CONSTRAINT refresh_tokens_family_fkey
        FOREIGN KEY (family_id) REFERENCES refresh_families (id) ON DELETE CASCADE;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- API keys: the secret (`upk_` + 43 base64url characters of 32 random bytes) is shown once;
-- only its SHA-256 is kept, and the first characters (`upk_AbC1`) to tell keys apart.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE,
    prefix       text NOT NULL,
    scopes       text[] NOT NULL
        CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'admin']::text[]),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_keys_user ON api_keys (user_id, id);
