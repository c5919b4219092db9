-- The provider's access and refresh tokens of an identity, kept only when
-- AUTH_PROVIDER_TOKENS_KEY is set: AES-256-GCM ciphertext (nonce, then ciphertext and tag) of
-- {"access_token", "refresh_token"}, bound to the identity's id.
ALTER TABLE identities
    ADD COLUMN provider_tokens bytea,
    ADD COLUMN provider_tokens_expires_at timestamptz;
