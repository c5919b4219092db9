// Drives the real, unmodified @supabase/auth-js client against the server, one call per run:
//
//   node auth-js.mjs <server URL> <storage file> <flowType> <method> '<arguments as JSON>'
//
// The client's storage (session, PKCE verifier) lives in <storage file>, so consecutive runs
// are one client. Prints the call's result as JSON ({data, error}).
import fs from 'node:fs';
import { GoTrueClient } from '@supabase/auth-js';

const [url, storagePath, flowType, method, argsJson] = process.argv.slice(2);
const args = JSON.parse(argsJson ?? '{}');

const load = () => {
  try { return JSON.parse(fs.readFileSync(storagePath, 'utf8')); } catch { return {}; }
};
const save = (s) => fs.writeFileSync(storagePath, JSON.stringify(s));
const storage = {
  getItem: (k) => load()[k] ?? null,
  setItem: (k, v) => { const s = load(); s[k] = v; save(s); },
  removeItem: (k) => { const s = load(); delete s[k]; save(s); },
};

const client = new GoTrueClient({
  url,
  storage,
  flowType,
  persistSession: true,
  autoRefreshToken: false,
  detectSessionInUrl: false,
});

let result;
switch (method) {
  case 'signInWithOAuth':
    result = await client.signInWithOAuth({
      provider: args.provider,
      options: { redirectTo: args.redirectTo, skipBrowserRedirect: true },
    });
    break;
  case 'exchangeCodeForSession':
    result = await client.exchangeCodeForSession(args.code);
    break;
  case 'signInWithIdToken':
    result = await client.signInWithIdToken({
      provider: args.provider, token: args.token, nonce: args.nonce,
    });
    break;
  case 'setSession':
    result = await client.setSession(args);
    break;
  case 'linkIdentity':
    result = await client.linkIdentity({
      provider: args.provider,
      options: { redirectTo: args.redirectTo, skipBrowserRedirect: true },
    });
    break;
  case 'getUserIdentities':
    result = await client.getUserIdentities();
    break;
  case 'unlinkIdentity': {
    const { data } = await client.getUserIdentities();
    const identity = data.identities.find((i) => i.provider === args.provider);
    result = await client.unlinkIdentity(identity);
    break;
  }
  default:
    throw new Error(`unknown method ${method}`);
}
console.log(JSON.stringify(result));
