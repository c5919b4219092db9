-- A PKCE code handed out after a second factor (the hosted sign-in page): the session it
-- opens starts at aal2, raised as the page's session was (`amr` method, and the factor).
ALTER TABLE auth_codes
    ADD COLUMN raised_by text,
    ADD COLUMN raised_factor_id uuid;
