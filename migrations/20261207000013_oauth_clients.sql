-- Third-party applications that sign users in through this server (OAuth 2.1 / OpenID
-- Connect provider). A confidential client's secret is stored only as its SHA-256; a public
-- client has none and proves itself with PKCE.
CREATE TABLE oauth_clients (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_type                text NOT NULL CHECK (client_type IN ('public', 'confidential')),
    token_endpoint_auth_method text NOT NULL
        CHECK (token_endpoint_auth_method IN ('none', 'client_secret_basic', 'client_secret_post')),
    secret_hash                bytea,
    registration_type          text NOT NULL CHECK (registration_type IN ('manual', 'dynamic')),
    redirect_uris              text[] NOT NULL CHECK (cardinality(redirect_uris) BETWEEN 1 AND 10),
    grant_types                text[] NOT NULL,
    client_name                text CHECK (length(client_name) <= 1024),
    client_uri                 text CHECK (length(client_uri) <= 2048),
    logo_uri                   text CHECK (length(logo_uri) <= 2048),
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    CHECK ((client_type = 'public') = (secret_hash IS NULL)),
    CHECK ((client_type = 'public') = (token_endpoint_auth_method = 'none'))
);
