-- An address is proven only when someone shows they receive its mail (a link or a code from
-- it, an invitation accepted, an email change confirmed), an identity provider vouches for it
-- (email_verified), or an administrator does. `email_confirmed_at` keeps Supabase Auth's
-- meaning: the account may sign in without confirming (with confirmation off, that is the
-- sign-up time). The first proof removes what was set up before it (src/auth/proven.rs).
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

-- Existing accounts: confirmed ones count as proven, except password sign-ups made while
-- confirmation was off (a `sign_up` audit entry with no method or provider) of which nothing
-- shows a proof since: no `email_confirmed` or `email_changed` entry, no sign-in by a link or
-- code sent to the address, no identity whose provider verified it. Where the audit log was
-- pruned, the account keeps counting as proven, as before this migration.
UPDATE users u SET email_verified_at = u.email_confirmed_at
 WHERE u.email_confirmed_at IS NOT NULL
   AND NOT (
       EXISTS (SELECT 1 FROM audit_log a
                WHERE a.user_id = u.id AND a.event = 'sign_up'
                  AND NOT a.detail ? 'method' AND NOT a.detail ? 'provider')
       AND NOT EXISTS (
           SELECT 1 FROM audit_log a
            WHERE a.user_id = u.id
              AND (a.event IN ('email_confirmed', 'email_changed')
                   OR (a.event = 'sign_in'
                       AND a.detail->>'method' IN
                           ('magiclink', 'recovery', 'invite', 'signup', 'email_change'))))
       AND NOT EXISTS (
           SELECT 1 FROM identities i
            WHERE i.user_id = u.id AND i.identity_data->'email_verified' = 'true'::jsonb
              AND lower(coalesce(i.email, '')) = lower(u.email))
   );
