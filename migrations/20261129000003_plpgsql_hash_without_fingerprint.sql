-- Hashes imported from the PL/pgSQL hasura-jwt-auth carried a plain SHA-256 fingerprint of
-- its JWT secret (`$hja-seed$v1$<fingerprint>$<bcrypt>`), against which a copy of the database
-- could test guesses of that secret offline. Keep only the bcrypt hash.
UPDATE user_passwords
SET hash = '$hja-plpgsql$v2$' || substr(hash, length('$hja-seed$v1$') + 18),
    updated_at = now()
WHERE hash LIKE '$hja-seed$v1$%';
