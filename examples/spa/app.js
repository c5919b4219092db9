// The example app: @supabase/auth-js against hasura-jwt-auth, nothing else.
//
// - signs in with the hosted pages (they redirect back with the session in the URL fragment,
//   which auth-js reads on load) or with its own form (signInWithPassword);
// - shows the user and calls a protected endpoint (the auth server's GET /user; in a real app,
//   Hasura) with the access token every few seconds;
// - lets auth-js refresh the session silently before the access token expires (one tab at a
//   time: auth-js serialises refreshes across tabs with the Web Locks API);
// - follows sign-out from other tabs (auth-js broadcasts it) and from other devices (the next
//   refresh fails and auth-js signs this tab out).
import { GoTrueClient } from '@supabase/auth-js';
import { AUTH_URL, CALL_EVERY_MS } from './config.js';

const auth = new GoTrueClient({
  url: AUTH_URL,
  storageKey: 'example-app-auth',
  persistSession: true,
  autoRefreshToken: true,
  detectSessionInUrl: true,
});

const $ = (id) => document.getElementById(id);

// What happened in this tab, kept across reloads of the tab (sessionStorage).
const LOG_KEY = 'example-app-log';
function log(event, detail = '') {
  const entries = JSON.parse(sessionStorage.getItem(LOG_KEY) ?? '[]');
  entries.push({ at: new Date().toISOString(), event, detail });
  sessionStorage.setItem(LOG_KEY, JSON.stringify(entries.slice(-500)));
  $('log').textContent = entries.slice(-20).map((e) => `${e.at} ${e.event} ${e.detail}`).join('\n');
}

const counters = { ok: 0, failed: 0 };

function show(session) {
  const signedIn = Boolean(session);
  $('signed-in').hidden = !signedIn;
  $('signed-out').hidden = signedIn;
  $('status').textContent = signedIn ? 'Signed in' : 'Signed out';
  document.body.dataset.state = signedIn ? 'signed-in' : 'signed-out';
  if (signedIn) $('user-email').textContent = session.user.email;
}

async function callProtected() {
  const { data } = await auth.getSession();
  if (!data.session) return;
  const response = await fetch(`${AUTH_URL}/user`, {
    headers: { Authorization: `Bearer ${data.session.access_token}` },
  });
  if (response.ok) {
    counters.ok += 1;
  } else {
    counters.failed += 1;
    log('PROTECTED_CALL_REFUSED', String(response.status));
  }
  $('api-ok').textContent = counters.ok;
  $('api-failed').textContent = counters.failed;
  $('api-last').textContent = `${response.status} at ${new Date().toLocaleTimeString()}`;
}

auth.onAuthStateChange((event, session) => {
  log(event, session ? `expires_at=${session.expires_at}` : '');
  // Another auth-js call must not run inside this callback: update the page only.
  setTimeout(() => show(session), 0);
});

$('hosted-sign-in').href =
  `${AUTH_URL}/ui/sign-in?redirect_to=${encodeURIComponent(location.origin + location.pathname)}`;
$('account').href = `${AUTH_URL}/ui/account`;

$('sign-in-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('form-error').textContent = '';
  const { error } = await auth.signInWithPassword({
    email: $('email').value,
    password: $('password').value,
  });
  if (error) $('form-error').textContent = error.message;
});
$('sign-out').addEventListener('click', () => auth.signOut({ scope: 'local' }));
$('sign-out-everywhere').addEventListener('click', () => auth.signOut({ scope: 'global' }));

const { data } = await auth.getSession();
show(data.session);
log('LOADED', new URLSearchParams(location.search).get('view') ?? 'home');
setInterval(() => callProtected().catch((e) => log('PROTECTED_CALL_ERROR', e.message)), CALL_EVERY_MS);
