-- Secrets at rest: a channel's config and a monitor's request headers sealed under
-- SECRETS_KEY (XChaCha20-Poly1305, bound to the row's id), as an envelope
-- {"v":1,"kid":"k1","n":"<nonce>","c":"<ciphertext>"}. A sealed row keeps '{}' in the clear
-- column; rows written before this migration stay readable in clear until
-- `upcheck-api rotate-secrets` seals them.
ALTER TABLE channels ADD COLUMN config_sealed jsonb;
ALTER TABLE monitors ADD COLUMN headers_sealed jsonb;
