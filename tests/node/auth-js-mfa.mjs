// The MFA scenarios of @supabase/auth-js's own test suite (its `describe('MFA')` block), run
// with the real, unmodified client against the server:
//
//   node auth-js-mfa.mjs <server URL> <HS256 secret>
//
// Where auth-js's tests replace `getUser` with a stub, these use a real user in the state the
// stub describes. Prints one JSON object: scenario name → {pass, detail}.
import crypto from 'node:crypto';
import { GoTrueClient } from '@supabase/auth-js';

const [url, jwtSecret] = process.argv.slice(2);

const memoryStorage = () => {
  const items = new Map();
  return {
    getItem: (k) => items.get(k) ?? null,
    setItem: (k, v) => { items.set(k, v); },
    removeItem: (k) => { items.delete(k); },
  };
};
const newClient = (flowType = 'implicit') => new GoTrueClient({
  url, storage: memoryStorage(), flowType, persistSession: true,
  autoRefreshToken: false, detectSessionInUrl: false,
});

// RFC 6238 with SHA-1, 6 digits, 30 s: what an authenticator app computes from the secret.
const base32 = (s) => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of s.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
};
const totp = (secret, at = Date.now() / 1000) => {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30)));
  const mac = crypto.createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
};
const signJwt = (payload) => {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(payload)}`;
  return `${body}.${crypto.createHmac('sha256', jwtSecret).update(body).digest('base64url')}`;
};
const jwtPayload = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());

let n = 0;
const credentials = () => ({ email: `mfa-${Date.now()}-${n++}@example.com`, password: 'correct horse battery' });

const expect = (actual) => ({
  toBe: (v) => { if (actual !== v) throw new Error(`expected ${JSON.stringify(v)}, got ${JSON.stringify(actual)}`); },
  toBeNull: () => { if (actual !== null) throw new Error(`expected null, got ${JSON.stringify(actual)}`); },
  notNull: () => { if (actual === null || actual === undefined) throw new Error('expected a value'); },
  toContain: (s) => { if (!String(actual).includes(s)) throw new Error(`expected ${JSON.stringify(actual)} to contain ${s}`); },
  toHaveLength: (l) => { if (actual?.length !== l) throw new Error(`expected length ${l}, got ${JSON.stringify(actual)}`); },
  toBeUndefined: () => { if (actual !== undefined) throw new Error(`expected undefined, got ${JSON.stringify(actual)}`); },
});

// auth-js's helpers: a signed-up, signed-in client, optionally with a TOTP factor enrolled.
const setupUserWithMFA = async () => {
  const auth = newClient();
  const { email, password } = credentials();
  const { data, error } = await auth.signUp({ email, password });
  expect(error).toBeNull();
  expect(data.session).notNull();
  await auth.initialize();
  const { error: signInError } = await auth.signInWithPassword({ email, password });
  expect(signInError).toBeNull();
  return { auth, email, password };
};
const setupUserWithMFAAndTOTP = async () => {
  const user = await setupUserWithMFA();
  const { data, error } = await user.auth.mfa.enroll({ factorType: 'totp' });
  expect(error).toBeNull();
  expect(data.totp).notNull();
  return { ...user, factorId: data.id, totp: data.totp };
};

const scenarios = {
  'enroll({factorType: "totp"}) returns totp': async () => {
    const { auth } = await setupUserWithMFA();
    const { data, error } = await auth.mfa.enroll({ factorType: 'totp' });
    expect(error).toBeNull();
    expect(data.totp.qr_code).notNull();
    expect(data.totp.qr_code).toContain('data:image/svg+xml;utf-8,');
    expect(data.totp.qr_code).toContain('<svg');
  },
  'enroll({factorType: "totp"}) should fail without session': async () => {
    const { auth } = await setupUserWithMFA();
    await auth.signOut();
    const { data, error } = await auth.mfa.enroll({ factorType: 'totp' });
    expect(error?.message).toContain('Bearer token');
    expect(data).toBeNull();
  },
  'challenge should create MFA challenge': async () => {
    const { auth, factorId } = await setupUserWithMFAAndTOTP();
    const { data, error } = await auth.mfa.challenge({ factorId });
    expect(error).toBeNull();
    expect(data.id).notNull();
    expect(data.expires_at).notNull();
  },
  'verify should verify MFA challenge': async () => {
    const { auth, factorId } = await setupUserWithMFAAndTOTP();
    const { data: challenge, error: challengeError } = await auth.mfa.challenge({ factorId });
    expect(challengeError).toBeNull();
    const { data, error } = await auth.mfa.verify({ factorId, challengeId: challenge.id, code: '123456' });
    expect(error?.message).toContain('Invalid TOTP code');
    expect(data).toBeNull();
  },
  'challengeAndVerify should handle MFA challenge and verification in one call': async () => {
    const { auth, factorId } = await setupUserWithMFAAndTOTP();
    const { data, error } = await auth.mfa.challengeAndVerify({ factorId, code: '123456' });
    expect(error?.message).toContain('Invalid TOTP code');
    expect(data).toBeNull();
  },
  'unenroll should remove MFA factor': async () => {
    const { auth, factorId } = await setupUserWithMFAAndTOTP();
    const { error } = await auth.mfa.unenroll({ factorId });
    expect(error).toBeNull();
    const { data } = await auth.mfa.listFactors();
    expect(data.all).toHaveLength(0);
    expect(data.totp).toHaveLength(0);
  },
  'getAuthenticatorAssuranceLevel should return current AAL': async () => {
    const { auth } = await setupUserWithMFAAndTOTP();
    const { data, error } = await auth.mfa.getAuthenticatorAssuranceLevel();
    expect(error).toBeNull();
    expect(data.currentLevel).toBe('aal1');
    expect(data.nextLevel).toBe('aal1');
    expect(data.currentAuthenticationMethods).toHaveLength(1);
  },
  'JWT with aal1 and no verified factors returns aal1/aal1': async () => {
    const { auth } = await setupUserWithMFA();
    const { data: { session } } = await auth.getSession();
    const { data, error } = await newClient('pkce').mfa.getAuthenticatorAssuranceLevel(session.access_token);
    expect(error).toBeNull();
    expect(data.currentLevel).toBe('aal1');
    expect(data.nextLevel).toBe('aal1');
    expect(data.currentAuthenticationMethods).toHaveLength(1);
  },
  'JWT with aal1 and verified factors returns aal1/aal2': async () => {
    const { auth, email, password, factorId, totp: shown } = await setupUserWithMFAAndTOTP();
    const { error } = await auth.mfa.challengeAndVerify({ factorId, code: totp(shown.secret) });
    expect(error).toBeNull();
    const other = newClient();
    const { data: signedIn } = await other.signInWithPassword({ email, password });
    const { data, error: aalError } = await newClient('pkce').mfa.getAuthenticatorAssuranceLevel(signedIn.session.access_token);
    expect(aalError).toBeNull();
    expect(data.currentLevel).toBe('aal1');
    expect(data.nextLevel).toBe('aal2');
    expect(data.currentAuthenticationMethods).toHaveLength(1);
  },
  'invalid JWT returns error': async () => {
    const { data, error } = await newClient('pkce').mfa.getAuthenticatorAssuranceLevel('invalid-jwt-token');
    expect(error?.message).toContain('Invalid JWT');
    expect(data).toBeNull();
  },
  'JWT where getUser fails returns error': async () => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = signJwt({
      sub: crypto.randomUUID(), aud: 'authenticated', aal: 'aal1', session_id: crypto.randomUUID(),
      amr: [{ method: 'password', timestamp: now }], exp: now + 3600, iat: now,
    });
    const { data, error } = await newClient('pkce').mfa.getAuthenticatorAssuranceLevel(jwt);
    expect(error).notNull();
    expect(data).toBeNull();
  },
  '_listFactors returns correct factor lists': async () => {
    const { auth, factorId, totp: shown } = await setupUserWithMFAAndTOTP();
    const { error } = await auth.mfa.challengeAndVerify({ factorId, code: totp(shown.secret) });
    expect(error).toBeNull();
    const { error: enrollError } = await auth.mfa.enroll({ factorType: 'totp', friendlyName: 'second' });
    expect(enrollError).toBeNull();
    const result = await auth['_listFactors']();
    expect(result.error).toBeNull();
    expect(result.data.all).toHaveLength(2);
    expect(result.data.totp).toHaveLength(1);
    expect(result.data.phone).toHaveLength(0);
  },
  'should handle MFA enroll without session': async () => {
    const auth = newClient();
    await auth.signOut();
    const { data, error } = await auth.mfa.enroll({ factorType: 'totp' });
    expect(error).notNull();
    expect(data?.id).toBeUndefined();
  },
  'should handle MFA challenge without session': async () => {
    const { data, error } = await newClient().mfa.challenge({ factorId: 'test-factor-id' });
    expect(error).notNull();
    expect(data?.id).toBeUndefined();
  },
  'should handle MFA verify without session': async () => {
    const { data, error } = await newClient().mfa.verify({
      factorId: 'test-factor-id', challengeId: 'f7850041-ba10-4eb3-851c-8ceb7ff8463d', code: '123456',
    });
    expect(error).notNull();
    expect(data?.access_token).toBeUndefined();
  },
  'should handle MFA unenroll without session': async () => {
    const { data, error } = await newClient().mfa.unenroll({ factorId: 'test-factor-id' });
    expect(error).notNull();
    expect(data?.id).toBeUndefined();
  },
  // Beyond auth-js's suite: the right code, as an app's MFA screen sends it.
  'challengeAndVerify with the code of the shown secret reaches aal2, kept by a refresh': async () => {
    const { auth, factorId, totp: shown } = await setupUserWithMFAAndTOTP();
    const code = totp(shown.secret);
    const { data, error } = await auth.mfa.challengeAndVerify({ factorId, code });
    expect(error).toBeNull();
    expect(jwtPayload(data.access_token).aal).toBe('aal2');
    const { data: aal } = await auth.mfa.getAuthenticatorAssuranceLevel();
    expect(aal.currentLevel).toBe('aal2');
    expect(aal.currentAuthenticationMethods[0].method).toBe('totp');
    const { data: refreshed, error: refreshError } = await auth.refreshSession();
    expect(refreshError).toBeNull();
    expect(jwtPayload(refreshed.session.access_token).aal).toBe('aal2');
    const { data: factors } = await auth.mfa.listFactors();
    expect(factors.totp).toHaveLength(1);
    // The same code again is refused.
    const { error: replay } = await auth.mfa.challengeAndVerify({ factorId, code });
    expect(replay?.message).toContain('Invalid TOTP code');
  },
};

const results = {};
for (const [name, run] of Object.entries(scenarios)) {
  try {
    await run();
    results[name] = { pass: true };
  } catch (e) {
    results[name] = { pass: false, detail: String(e?.stack ?? e) };
  }
}
console.log(JSON.stringify(results));
