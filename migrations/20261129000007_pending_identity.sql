-- A provider identity waiting to be linked to the code's user: linking commits only when the
-- code is exchanged with the verifier of the app that started it, so a link URL sent to
-- someone else links nothing.
ALTER TABLE auth_codes ADD COLUMN pending_identity jsonb;
