-- External identities: the accounts at identity providers (OpenID Connect, GitHub) that sign
-- a user in. The email identity (email + password or email links) stays implied by the user
-- row: `email_identity` says whether the user has one (users created by an external sign-in
-- do not, until they set a password).
ALTER TABLE users ADD COLUMN email_identity boolean NOT NULL DEFAULT true;

CREATE TABLE identities (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider        text NOT NULL,
    -- The user's id at the provider (the ID token's `sub`, GitHub's user id).
    provider_id     text NOT NULL,
    identity_data   jsonb NOT NULL DEFAULT '{}'::jsonb,
    email           text,
    last_sign_in_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, provider_id)
);
CREATE INDEX identities_user_id_idx ON identities (user_id);

-- Browser sign-ins with a provider under way: what `/callback` needs to finish one. Keyed by
-- the SHA-256 of `state`; bound to the browser by the SHA-256 of a cookie; single-use.
CREATE TABLE oauth_states (
    state_hash            bytea PRIMARY KEY,
    browser_hash          bytea NOT NULL,
    provider              text NOT NULL,
    nonce                 text NOT NULL,
    pkce_verifier         text NOT NULL,
    redirect_to           text NOT NULL,
    code_challenge        text,
    code_challenge_method text,
    link_user_id          uuid REFERENCES users (id) ON DELETE CASCADE,
    created_at            timestamptz NOT NULL DEFAULT now(),
    expires_at            timestamptz NOT NULL
);
