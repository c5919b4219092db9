// Drives Debian's Chromium (headless, through playwright-core) against the server, one scenario
// per run:
//
//   node browser.mjs <scenario> '<settings as JSON>'
//
// Settings: auth (the server's URL), spaPort (where to serve examples/spa, the app's origin),
// mailbox (a URL answering GET ?to=<address>&n=<k> with the link of the k-th message to that
// address), screenshots (a directory), email, password, seconds (multi-tab run time).
//
// Each scenario checks what a user would see and throws at the first difference (exit code 1,
// the message on stderr); on success it prints one line of JSON with its observations for the
// Rust test to check against the database.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const [scenario, settingsJson] = process.argv.slice(2);
const cfg = JSON.parse(settingsJson);
const here = path.dirname(fileURLToPath(import.meta.url));
const spaDir = path.join(here, '..', '..', 'examples', 'spa');
const spa = `http://127.0.0.1:${cfg.spaPort}`;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// --- The example app, served as a static site (its config.js pointing at the server) -------

const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css' };

function serveStatic(port, host, files) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const found = files(url.pathname);
    if (found === null) {
      res.writeHead(404).end('not found');
      return;
    }
    const { body, name } = typeof found === 'string' ? { body: found, name: url.pathname } : found;
    res.writeHead(200, {
      'content-type': types[path.extname(name)] ?? 'text/html',
      'cache-control': 'no-store',
      // Modules reached through the esm.sh redirect are loaded in CORS mode.
      'access-control-allow-origin': '*',
    });
    res.end(body);
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

function spaFile(pathname) {
  if (pathname === '/config.js') {
    const body = `export const AUTH_URL = ${JSON.stringify(cfg.auth)};\nexport const CALL_EVERY_MS = ${cfg.callEveryMs ?? 2000};\n`;
    return { body, name: pathname };
  }
  const rel = pathname === '/' ? 'index.html' : decodeURIComponent(pathname.slice(1));
  const base = rel.startsWith('node_modules/') ? here : spaDir;
  const file = path.normalize(path.join(base, rel));
  const isFile = (f) => fs.existsSync(f) && fs.statSync(f).isFile();
  if (!file.startsWith(base)) return null;
  // auth-js's ES modules import without extensions ('./lib/locks'), as bundlers allow.
  const found = [file, `${file}.js`].find(isFile);
  return found ? { body: fs.readFileSync(found), name: found } : null;
}

// The app's import map names packages on esm.sh; the tests serve the same versions from
// tests/node/node_modules (checked here), through a redirect so that their relative imports
// resolve there too.
const importMap = JSON.parse(
  fs.readFileSync(path.join(spaDir, 'index.html'), 'utf8').match(/<script type="importmap">([\s\S]*?)<\/script>/)[1],
);
const localModules = {
  '@supabase/auth-js': 'node_modules/@supabase/auth-js/dist/module/index.js',
  tslib: 'node_modules/tslib/tslib.es6.mjs',
};
const moduleRedirects = new Map();
for (const [name, url] of Object.entries(importMap.imports)) {
  const version = url.slice(url.lastIndexOf('@') + 1);
  const installed = JSON.parse(fs.readFileSync(path.join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
  check(installed === version, `the app loads ${name}@${version}; tests/node has ${installed}`);
  moduleRedirects.set(url, `${spa}/${localModules[name]}`);
}

// --- Helpers ------------------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  // Root in CI: no sandbox. evil.test: a page on another site, served here.
  args: ['--no-sandbox', '--host-resolver-rules=MAP evil.test 127.0.0.1'],
});
const spaServer = await serveStatic(cfg.spaPort, '127.0.0.1', spaFile);

// A browser profile (one "device"); what its pages log goes to stderr, to explain failures.
async function device() {
  const ctx = await browser.newContext();
  await ctx.route('https://esm.sh/**', (route) => {
    const local = moduleRedirects.get(route.request().url());
    return local ? route.fulfill({ status: 302, headers: { location: local, 'access-control-allow-origin': '*' } }) : route.abort();
  });
  ctx.on('page', (page) => {
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') console.error(`[console ${m.type()}] ${m.text()}`);
    });
    page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  });
  return ctx;
}

fs.mkdirSync(cfg.screenshots, { recursive: true });
const shot = (page, name) => page.screenshot({ path: path.join(cfg.screenshots, `${name}.png`), fullPage: true });

async function mailLink(to, n) {
  const r = await fetch(`${cfg.mailbox}?to=${encodeURIComponent(to)}&n=${n}`);
  check(r.ok, `no message #${n} to ${to}`);
  return (await r.text()).trim();
}

const signedIn = (page) => page.waitForSelector('body[data-state="signed-in"]', { timeout: 15000 });
const signedOut = (page, timeout = 15000) => page.waitForSelector('body[data-state="signed-out"]', { timeout });

async function ownFormSignIn(page, email, password) {
  await page.goto(`${spa}/`);
  await signedOut(page);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#sign-in-form button[type=submit]');
  await signedIn(page);
}

/// The hosted sign-in page, filled in and submitted.
async function hostedSignIn(page, email, password) {
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('form[action$="/ui/sign-in"] button[type=submit]');
}

const tabLog = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem('example-app-log') ?? '[]'));
const storedSession = (page) =>
  page.evaluate(() => JSON.parse(localStorage.getItem('example-app-auth') ?? 'null'));
const sessionIdOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).session_id;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- Scenarios ----------------------------------------------------------------------------

// Sign up on the hosted pages from the app, confirm by email, land signed in; reload; the
// app's own form; the account page; a screenshot of every page.
async function pages() {
  const { email, password } = cfg;
  const ctx = await device();
  const page = await ctx.newPage();
  await page.goto(`${spa}/`);
  await signedOut(page);
  await shot(page, 'app-signed-out');
  await page.click('#hosted-sign-in');
  await page.waitForURL(`${cfg.auth}/ui/sign-in?**`);
  await shot(page, 'ui-sign-in');
  await page.click('text=Create an account');
  await page.waitForURL(`${cfg.auth}/ui/sign-up?**`);
  await shot(page, 'ui-sign-up');
  // A weak password: the error is next to the field, which gets the focus.
  await page.fill('#email', email);
  await page.fill('#password', 'short');
  await page.click('form button[type=submit]');
  await page.waitForSelector('#password-error');
  check(await page.evaluate(() => document.activeElement?.id) === 'password', 'focus on the field in error');
  check(await page.getAttribute('#password', 'aria-describedby') === 'password-error', 'error described');
  await shot(page, 'ui-sign-up-error');
  await page.fill('#password', password);
  await page.click('form button[type=submit]');
  await page.waitForSelector('text=Check your email');
  await shot(page, 'ui-check-email');

  // The confirmation link: its page, its button, back in the app, signed in.
  await page.goto(await mailLink(email, 1));
  await shot(page, 'email-link');
  await page.click('button[type=submit]');
  await page.waitForURL(`${spa}/**`);
  await signedIn(page);
  check((await page.textContent('#user-email')) === email, 'the app shows the user');
  check(!page.url().includes('access_token'), 'auth-js removed the session from the URL');
  await shot(page, 'app-signed-in');
  await page.reload();
  await signedIn(page);

  // The app's own form, in another browser.
  const other = await device();
  await ownFormSignIn(await other.newPage(), email, password);

  // The hosted pages as the app's login screen, in a third browser.
  const third = await device();
  const p3 = await third.newPage();
  await p3.goto(`${spa}/`);
  await signedOut(p3);
  await p3.click('#hosted-sign-in');
  await p3.waitForURL(`${cfg.auth}/ui/sign-in?**`);
  await hostedSignIn(p3, email, 'wrong password');
  await p3.waitForSelector('text=Wrong email address or password.');
  await shot(p3, 'ui-sign-in-error');
  await hostedSignIn(p3, email, password);
  await p3.waitForURL(`${spa}/**`);
  await signedIn(p3);

  // The account page (its own session, no redirect_to).
  await p3.goto(`${cfg.auth}/ui/sign-in`);
  await hostedSignIn(p3, email, password);
  await p3.waitForURL(`${cfg.auth}/ui/account`);
  const rows = await p3.locator('table.sessions tbody tr').count();
  check(rows >= 4, `the account page lists every session (${rows})`);
  check((await p3.locator('tr.current').count()) === 1, 'one session is this device');
  await shot(p3, 'ui-account');
  await p3.goto(`${cfg.auth}/ui/forgot-password`);
  await shot(p3, 'ui-forgot-password');

  // "Sign out everywhere" in one tab of the first browser: its other tab follows.
  const second = await ctx.newPage();
  await second.goto(`${spa}/?view=other`);
  await signedIn(second);
  await page.click('#sign-out-everywhere');
  await signedOut(page);
  await signedOut(second);
  // …and the other browsers at their next refresh or call.
  const account = await p3.goto(`${cfg.auth}/ui/account`);
  check(p3.url().startsWith(`${cfg.auth}/ui/sign-in`), `the account page's session ended (${account.status()})`);
  return { ok: true };
}

// Password reset through the pages, the message read from the SMTP server.
async function reset() {
  const { email, password } = cfg;
  const ctx = await device();
  const page = await ctx.newPage();
  await page.goto(`${cfg.auth}/ui/forgot-password`);
  await page.fill('#email', email);
  await page.click('form button[type=submit]');
  await page.waitForSelector('text=Check your email');
  await page.goto(await mailLink(email, cfg.mailNumber));
  await page.click('button[type=submit]');
  await page.waitForURL(`${cfg.auth}/ui/reset-password`);
  await shot(page, 'ui-reset-password');
  await page.fill('#password', cfg.newPassword);
  await page.click('form button[type=submit]');
  await page.waitForURL(`${cfg.auth}/ui/account?notice=password_changed`);
  await page.waitForSelector('text=Your password was changed.');
  await shot(page, 'ui-account-password-changed');
  // The app signs in with the new password, not the old one.
  const app = await (await device()).newPage();
  await app.goto(`${spa}/`);
  await signedOut(app);
  await app.fill('#email', email);
  await app.fill('#password', password);
  await app.click('#sign-in-form button[type=submit]');
  await app.waitForSelector('#form-error:has-text("Invalid login credentials")');
  await ownFormSignIn(app, email, cfg.newPassword);
  return { ok: true };
}

// Four tabs of the app with short-lived access tokens, refreshing on their own for a while;
// reloads and navigations at random, some of them while a refresh is on its way (its answer
// never reaches the page). Then another device signs out everywhere else.
async function tabs() {
  const { email, password } = cfg;
  const ctx = await device();
  const first = await ctx.newPage();
  await ownFormSignIn(first, email, password);
  const pages = [first];
  for (let i = 1; i < 4; i++) {
    const p = await ctx.newPage();
    await p.goto(`${spa}/`);
    await signedIn(p);
    pages.push(p);
  }
  let refreshes = 0;
  let lost = 0;
  let losing = true;
  // Every refresh goes to the server; one in four (while `losing`), the tab reloads or
  // navigates before the answer arrives, so the server has rotated a token the tab never
  // learns.
  await ctx.route('**/token?grant_type=refresh_token', async (route) => {
    refreshes += 1;
    const response = await route.fetch();
    const page = route.request().frame().page();
    // The first one always, so that every run has at least one.
    if (losing && (refreshes === 1 || Math.random() < 0.25)) {
      lost += 1;
      const target = Math.random() < 0.5 ? `${spa}/?view=other` : `${spa}/`;
      await page.goto(target).catch(() => {});
      await route.abort().catch(() => {});
      return;
    }
    await route.fulfill({ response }).catch(() => {});
  });
  const until = Date.now() + cfg.seconds * 1000;
  let navigations = 0;
  while (Date.now() < until) {
    await sleep(3000 + Math.random() * 3000);
    const p = pages[Math.floor(Math.random() * pages.length)];
    navigations += 1;
    if (Math.random() < 0.5) await p.reload().catch(() => {});
    else await p.goto(Math.random() < 0.5 ? `${spa}/?view=other` : `${spa}/`).catch(() => {});
  }
  // No more lost answers: a navigation the handler starts now would destroy the page being
  // read below. Let every tab settle first.
  losing = false;
  await sleep(3000);
  for (const p of pages) await p.waitForLoadState('load');
  const seen = [];
  for (const p of pages) {
    await signedIn(p);
    const log = await tabLog(p);
    const stored = await storedSession(p);
    seen.push({
      signedOut: log.filter((e) => e.event === 'SIGNED_OUT').length,
      refused: log.filter((e) => e.event === 'PROTECTED_CALL_REFUSED').length,
      refreshed: log.filter((e) => e.event === 'TOKEN_REFRESHED').length,
      calls: Number(await p.textContent('#api-ok')),
      session: sessionIdOf(stored.access_token),
    });
  }
  for (const [i, t] of seen.entries()) {
    check(t.signedOut === 0, `tab ${i} was signed out: ${JSON.stringify(t)}`);
    check(t.refused === 0, `tab ${i} had calls refused: ${JSON.stringify(t)}`);
  }
  check(new Set(seen.map((t) => t.session)).size === 1, `one session for every tab: ${JSON.stringify(seen)}`);
  await ctx.unroute('**/token?grant_type=refresh_token');

  // Another device: the hosted account page, "sign out everywhere else".
  const other = await (await device()).newPage();
  await other.goto(`${cfg.auth}/ui/sign-in`);
  await hostedSignIn(other, email, password);
  await other.waitForURL(`${cfg.auth}/ui/account`);
  await other.click('form[action$="/account/sign-out-others"] button');
  await other.waitForSelector('text=Every other device was signed out.');
  const started = Date.now();
  for (const p of pages) await signedOut(p, 60000);
  return {
    tabs: seen,
    refreshes,
    lost,
    navigations,
    signedOutAfterMs: Date.now() - started,
    session: seen[0].session,
  };
}

// Cookie mode: the refresh token only ever in an HttpOnly cookie; a page on another site can
// neither use it nor sign in.
async function cookie() {
  const { email, password } = cfg;
  const ctx = await device();
  const page = await ctx.newPage();
  await page.goto(`${spa}/?view=cookie`);
  const signIn = await page.evaluate(async ({ auth, email, password }) => {
    const r = await fetch(`${auth}/token?grant_type=password`, {
      method: 'POST',
      credentials: 'include',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    return { status: r.status, body: await r.json() };
  }, { auth: cfg.auth, email, password });
  check(signIn.status === 200, `sign-in: ${JSON.stringify(signIn)}`);
  check(!signIn.body.refresh_token, 'no refresh token in the body');
  const jar = await ctx.cookies(cfg.auth);
  const refreshCookie = jar.find((c) => c.name === cfg.cookieName);
  check(refreshCookie && refreshCookie.httpOnly, `the HttpOnly cookie is set: ${JSON.stringify(jar.map((c) => c.name))}`);
  const visible = await page.evaluate(() => document.cookie);
  check(!visible.includes(cfg.cookieName) && !visible.includes(refreshCookie.value), `document.cookie: ${visible}`);
  const refreshed = await page.evaluate(async (auth) => {
    const r = await fetch(`${auth}/token?grant_type=refresh_token`, {
      method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: '{}',
    });
    return { status: r.status, body: await r.json() };
  }, cfg.auth);
  check(refreshed.status === 200 && refreshed.body.access_token, `refresh by cookie: ${JSON.stringify(refreshed)}`);
  check(!refreshed.body.refresh_token, 'no refresh token in the refresh body');
  await shot(page, 'cookie-mode-app');

  // A page on another site, in the same browser (so the cookie is in the jar).
  const evilServer = await serveStatic(cfg.evilPort, '127.0.0.1', () => '<!doctype html><title>evil</title><p>evil</p>');
  const evil = await ctx.newPage();
  await evil.goto(`http://evil.test:${cfg.evilPort}/`);
  const attempts = await evil.evaluate(async ({ auth, email, password }) => {
    const out = {};
    // Readable answers are blocked by CORS…
    try {
      const r = await fetch(`${auth}/token?grant_type=refresh_token`, {
        method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: '{}',
      });
      out.corsRefresh = `answered ${r.status}`;
    } catch (e) {
      out.corsRefresh = 'blocked';
    }
    // …and blind ones (no-cors) reach the server without the cookie (SameSite) and are refused.
    await fetch(`${auth}/token?grant_type=refresh_token`, {
      method: 'POST', mode: 'no-cors', credentials: 'include',
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '',
    }).catch(() => {});
    await fetch(`${auth}/token?grant_type=password`, {
      method: 'POST', mode: 'no-cors', credentials: 'include',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email, password }).toString(),
    }).catch(() => {});
    out.cookies = document.cookie;
    return out;
  }, { auth: cfg.auth, email, password });
  check(attempts.corsRefresh === 'blocked', `another site read a refresh: ${JSON.stringify(attempts)}`);
  evilServer.close();
  return { attempts, session: sessionIdOf(refreshed.body.access_token) };
}

// RFC 6238 with SHA-1, 6 digits, 30 s: what an authenticator app computes from the key the
// page shows for typing in.
function totp(secret, at = Date.now() / 1000) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30)));
  const mac = crypto.createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

// Two-step verification on the hosted pages: add an authenticator app from the account page
// (QR code and key shown, no script), make recovery codes; then sign in to the app through
// the hosted page: a replayed code is refused, the next code lands in the app at aal2; and
// sign in with a recovery code.
async function mfa() {
  const { email, password } = cfg;
  const ctx = await device();
  const page = await ctx.newPage();
  await page.goto(`${cfg.auth}/ui/sign-in`);
  await hostedSignIn(page, email, password);
  await page.waitForURL(`${cfg.auth}/ui/account`);
  await page.click('button:has-text("Add an authenticator app")');
  await page.waitForSelector('#totp-secret');
  const qr = await page.getAttribute('.qr img', 'src');
  check(qr.startsWith('data:image/svg+xml;base64,'), `the QR code is an image: ${qr.slice(0, 40)}`);
  check(await page.evaluate(() => document.querySelectorAll('script').length) === 0, 'no script on the page');
  await shot(page, 'ui-mfa-enrol');
  const secret = (await page.textContent('#totp-secret')).trim();
  const firstCode = totp(secret);
  await page.fill('#code', firstCode);
  await page.click('form[action$="/ui/account/factors/verify"] button[type=submit]');
  await page.waitForURL(`${cfg.auth}/ui/account?notice=factor_added`);
  check((await page.locator('ul.factors li').count()) === 1, 'the account lists the app');
  await page.click('button:has-text("Make new recovery codes")');
  await page.waitForSelector('ol.recovery-codes');
  const codes = await page.locator('ol.recovery-codes code').allTextContents();
  check(codes.length === 10, `ten recovery codes (${codes.length})`);
  await shot(page, 'ui-recovery-codes');

  // Another browser, through the app: the password, then the code.
  const other = await device();
  const p2 = await other.newPage();
  await p2.goto(`${spa}/`);
  await signedOut(p2);
  await p2.click('#hosted-sign-in');
  await p2.waitForURL(`${cfg.auth}/ui/sign-in?**`);
  await hostedSignIn(p2, email, password);
  await p2.waitForURL(`${cfg.auth}/ui/second-factor?**`);
  await shot(p2, 'ui-second-factor');
  await p2.fill('#code', firstCode);
  await p2.click('form[action$="/ui/second-factor"] button[type=submit]');
  await p2.waitForSelector('#code-error');
  check(p2.url().startsWith(`${cfg.auth}/ui/second-factor`), 'a replayed code does not get through');
  await p2.fill('#code', totp(secret, Date.now() / 1000 + 30));
  await p2.click('form[action$="/ui/second-factor"] button[type=submit]');
  await p2.waitForURL(`${spa}/**`);
  await signedIn(p2);
  const stored = await storedSession(p2);
  const claims = JSON.parse(Buffer.from(stored.access_token.split('.')[1], 'base64url'));
  check(claims.aal === 'aal2', `the app's session is aal2 (${claims.aal})`);

  // A third browser, with a recovery code instead of the app.
  const third = await device();
  const p3 = await third.newPage();
  await p3.goto(`${cfg.auth}/ui/sign-in`);
  await hostedSignIn(p3, email, password);
  await p3.waitForURL(`${cfg.auth}/ui/second-factor`);
  await p3.fill('#code', codes[0].toUpperCase());
  await p3.click('form[action$="/ui/second-factor"] button[type=submit]');
  await p3.waitForURL(`${cfg.auth}/ui/account`);
  return { ok: true, amr: claims.amr.map((e) => e.method) };
}

// A platform authenticator that keeps passkeys and verifies its user without asking.
const authenticatorOptions = { protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
  hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true };

// Passkeys on the hosted pages, through their script: add one on the account page (named
// after the device), rename it, sign out, sign in with it alone (autofill); sign in to the app
// through the hosted page with it (the button); with an authenticator app added, a passkey
// sign-in asks for its code; remove the passkey, after which it no longer signs in.
async function passkeyPages() {
  const { email, password } = cfg;
  const ctx = await device();
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', { options: authenticatorOptions });
  await page.goto(`${cfg.auth}/ui/sign-in`);
  // The button appears only when the script ran (the CSP allowed it).
  await page.waitForSelector('#passkey-sign-in:not([hidden])');
  check(await page.getAttribute('#email', 'autocomplete') === 'username webauthn', 'autofill offers passkeys');
  await shot(page, 'ui-sign-in-passkey');
  await hostedSignIn(page, email, password);
  await page.waitForURL(`${cfg.auth}/ui/account`);
  await page.waitForSelector('#passkey-add:not([hidden])');
  check(await page.isHidden('#passkey-unsupported'), 'the "needs a browser" line is hidden');
  await page.click('#passkey-add button');
  await page.waitForURL(`${cfg.auth}/ui/account?notice=passkey_added`);
  const names = () => page.locator('ul.passkeys input[name=friendly_name]').evaluateAll((els) => els.map((e) => e.value));
  const added = await names();
  check(added.length === 1 && added[0] === 'Headless Chrome on Linux', `named after the device: ${JSON.stringify(added)}`);
  await shot(page, 'ui-passkeys');
  await page.fill('ul.passkeys input[name=friendly_name]', 'This laptop');
  await page.click('ul.passkeys button:has-text("Rename")');
  await page.waitForURL(`${cfg.auth}/ui/account?notice=passkey_renamed`);
  check(JSON.stringify(await names()) === '["This laptop"]', 'renamed');

  // Signed out: the sign-in page's autofill request (conditional mediation) finds the passkey
  // (the virtual authenticator picks it as a user would from the list) and signs in with it.
  await page.click('form[action$="/ui/sign-out"] button');
  await page.waitForURL(`${cfg.auth}/ui/account`);
  check((await page.textContent('main')).includes(email), 'signed in as the passkey\'s owner');
  await shot(page, 'ui-passkey-signed-in');

  // A browser without autofill for passkeys: the button. The app's hosted sign-in gets the
  // app its own session.
  await page.addInitScript(() => {
    PublicKeyCredential.isConditionalMediationAvailable = async () => false;
  });
  await page.goto(`${spa}/`);
  await signedOut(page);
  await page.click('#hosted-sign-in');
  await page.waitForURL(`${cfg.auth}/ui/sign-in?**`);
  await page.waitForSelector('#passkey-sign-in:not([hidden])');
  await page.click('#passkey-sign-in button');
  await page.waitForURL(`${spa}/**`);
  await signedIn(page);
  const stored = await storedSession(page);
  const claims = JSON.parse(Buffer.from(stored.access_token.split('.')[1], 'base64url'));

  // With an authenticator app, a passkey sign-in still owes the second step (a passkey is
  // one factor, aal1, as in Supabase Auth).
  await page.goto(`${cfg.auth}/ui/account`);
  await page.click('button:has-text("Add an authenticator app")');
  const secret = (await page.textContent('#totp-secret')).trim();
  await page.fill('#code', totp(secret));
  await page.click('form[action$="/ui/account/factors/verify"] button[type=submit]');
  await page.waitForURL(`${cfg.auth}/ui/account?notice=factor_added`);
  await page.click('form[action$="/ui/sign-out"] button');
  await page.waitForURL(`${cfg.auth}/ui/sign-in`);
  await page.waitForSelector('#passkey-sign-in:not([hidden])');
  await page.click('#passkey-sign-in button');
  await page.waitForURL(`${cfg.auth}/ui/second-factor`);
  await page.fill('#code', totp(secret, Date.now() / 1000 + 30));
  await page.click('form[action$="/ui/second-factor"] button[type=submit]');
  await page.waitForURL(`${cfg.auth}/ui/account`);

  // Removed: the authenticator still has it, the server no longer takes it.
  await page.click('ul.passkeys button:has-text("Remove")');
  await page.waitForURL(`${cfg.auth}/ui/account?notice=passkey_removed`);
  check((await names()).length === 0, 'removed from the list');
  await page.click('form[action$="/ui/sign-out"] button');
  await page.waitForURL(`${cfg.auth}/ui/sign-in`);
  await page.waitForSelector('#passkey-sign-in:not([hidden])');
  await page.click('#passkey-sign-in button');
  await page.waitForSelector('#form-error');
  const refused = await page.textContent('#form-error');
  check(refused.includes('could not be used'), `a removed passkey is refused: ${refused}`);
  return { app: { aal: claims.aal, amr: claims.amr.map((e) => e.method) } };
}

// Passkeys with Chromium's virtual authenticator (the DevTools WebAuthn domain): register one
// for a signed-in user, sign in with it alone, then present a clone of it whose signature
// counter went back, which is refused. The page is one of the server's own answers on
// `localhost` (the relying party id), calling the API as an app would.
async function passkeys() {
  const { email, password } = cfg;
  const ctx = await device();
  const page = await ctx.newPage();
  await page.goto(`${cfg.auth}/live`);
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const options = authenticatorOptions;
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options });
  const registered = await page.evaluate(async ({ email, password }) => {
    const post = (path, body, token) => fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body ?? {}),
    }).then(async (r) => ({ status: r.status, body: await r.json().catch(() => null) }));
    const signedUp = await post('/signup', { email, password });
    const token = signedUp.body.access_token;
    const begun = await post('/passkeys/registration/options', {}, token);
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(begun.body.options);
    const credential = await navigator.credentials.create({ publicKey });
    const verified = await post('/passkeys/registration/verify',
      { challenge_id: begun.body.challenge_id, credential: credential.toJSON() }, token);
    const listed = await fetch('/passkeys', { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json());
    return { begun: begun.status, verified: verified.status, body: verified.body, listed: listed.length,
      residentKey: begun.body.options.authenticatorSelection?.residentKey };
  }, { email, password });
  check(registered.verified === 200, `registered: ${JSON.stringify(registered)}`);
  check(registered.listed === 1, `listed: ${JSON.stringify(registered)}`);

  const signIn = () => page.evaluate(async () => {
    const post = (path, body) => fetch(path, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}),
    }).then(async (r) => ({ status: r.status, body: await r.json().catch(() => null) }));
    const begun = await post('/passkeys/authentication/options');
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(begun.body.options);
    const assertion = await navigator.credentials.get({ publicKey });
    return post('/passkeys/authentication/verify', { challenge_id: begun.body.challenge_id, credential: assertion.toJSON() });
  });
  const first = await signIn();
  check(first.status === 200, `signed in with the passkey: ${JSON.stringify(first)}`);
  const claims = JSON.parse(Buffer.from(first.body.access_token.split('.')[1], 'base64url'));
  const second = await signIn();
  check(second.status === 200, `signed in again: ${JSON.stringify(second)}`);

  // The same authenticator as a second factor (Supabase Auth's WebAuthn factor): registered
  // by the factor's first challenge, asked for an assertion by the next; each reaches aal2.
  const factor = await page.evaluate(async ({ email, password }) => {
    const post = (path, body, token) => fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body ?? {}),
    }).then(async (r) => ({ status: r.status, body: await r.json().catch(() => null) }));
    const aalOf = (t) => JSON.parse(atob(t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    const signedIn = await post('/token?grant_type=password', { email, password });
    const token = signedIn.body.access_token;
    const enrolled = await post('/factors', { factor_type: 'webauthn', friendly_name: 'Laptop' }, token);
    const steps = [];
    let current = token;
    for (const expected of ['create', 'request']) {
      const challenge = await post(`/factors/${enrolled.body.id}/challenge`, {}, current);
      const { type, credential_options } = challenge.body.webauthn;
      const publicKey = type === 'create'
        ? PublicKeyCredential.parseCreationOptionsFromJSON(credential_options.publicKey)
        : PublicKeyCredential.parseRequestOptionsFromJSON(credential_options.publicKey);
      const credential = type === 'create'
        ? await navigator.credentials.create({ publicKey })
        : await navigator.credentials.get({ publicKey });
      const verified = await post(`/factors/${enrolled.body.id}/verify`,
        { challenge_id: challenge.body.id, webauthn: { type, credential_response: credential.toJSON() } }, current);
      const claims = verified.body?.access_token ? aalOf(verified.body.access_token) : null;
      steps.push({ expected, type, status: verified.status, aal: claims?.aal, amr: claims?.amr?.[0]?.method });
      if (verified.body?.access_token) current = verified.body.access_token;
    }
    return { enrolled: enrolled.status, type: enrolled.body.type, steps };
  }, { email, password });
  check(factor.enrolled === 200 && factor.type === 'webauthn', `enrolled: ${JSON.stringify(factor)}`);
  for (const step of factor.steps) {
    check(step.type === step.expected && step.status === 200 && step.aal === 'aal2', `factor: ${JSON.stringify(factor)}`);
  }

  // The clone: the same private key on another authenticator, its counter back at 0.
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  const passkey = credentials.find((c) => c.isResidentCredential);
  check(passkey && passkey.signCount >= 2, `the authenticator counts: ${JSON.stringify(credentials.map((c) => c.signCount))}`);
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
  const clone = await cdp.send('WebAuthn.addVirtualAuthenticator', { options });
  await cdp.send('WebAuthn.addCredential', { authenticatorId: clone.authenticatorId, credential: { ...passkey, signCount: 0 } });
  const cloned = await signIn();
  check(cloned.status === 400, `the clone is refused: ${JSON.stringify(cloned)}`);

  // The real auth-js in the example app's page (on localhost too): registerPasskey() for a
  // new user, signOut(), then signInWithPasskey() alone.
  const appPage = await ctx.newPage();
  await appPage.goto(`http://localhost:${cfg.spaPort}/`);
  const appCdp = await ctx.newCDPSession(appPage);
  await appCdp.send('WebAuthn.enable');
  await appCdp.send('WebAuthn.addVirtualAuthenticator', { options });
  const viaAuthJs = await appPage.evaluate(async ({ auth, password }) => {
    const { GoTrueClient } = await import('@supabase/auth-js');
    const items = new Map();
    const client = new GoTrueClient({
      url: auth, storageKey: 'passkey-test', persistSession: true, autoRefreshToken: false,
      detectSessionInUrl: false, experimental: { passkey: true },
      storage: { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, v), removeItem: (k) => items.delete(k) },
    });
    const email = `auth-js-${Date.now()}@example.com`;
    const signedUp = await client.signUp({ email, password });
    if (signedUp.error) return { step: 'signUp', error: signedUp.error.message };
    const registered = await client.registerPasskey();
    if (registered.error) return { step: 'registerPasskey', error: registered.error.message };
    const { data: listed } = await client.passkey.list();
    await client.signOut({ scope: 'local' });
    const signedIn = await client.signInWithPasskey();
    if (signedIn.error) return { step: 'signInWithPasskey', error: signedIn.error.message };
    const token = signedIn.data.session.access_token;
    const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return { email, listed: listed?.length, amr: claims.amr.map((e) => e.method), sameUser: signedIn.data.user.email === email };
  }, { auth: cfg.auth, password });
  check(viaAuthJs.sameUser && viaAuthJs.listed === 1, `auth-js: ${JSON.stringify(viaAuthJs)}`);

  return { amr: claims.amr.map((e) => e.method), aal: claims.aal, cloned: cloned.body.error_code,
    factor: factor.steps.map((s) => s.amr), authJs: viaAuthJs.amr };
}

const scenarios = { pages, reset, tabs, cookie, mfa, passkeys, passkeyPages };
try {
  check(scenarios[scenario], `unknown scenario ${scenario}`);
  const result = await scenarios[scenario]();
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  spaServer.close();
}
