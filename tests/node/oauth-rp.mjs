// Plays a relying party of the server's OAuth 2.1 / OpenID Connect provider with panva's
// openid-client (an OpenID Certified client), clicking through the hosted sign-in and consent
// pages in Debian's Chromium (headless, through playwright-core), one scenario per run:
//
//   node oauth-rp.mjs <scenario> '<settings as JSON>'
//
// Settings: issuer (the server's URL, also the OpenID issuer), clientId, clientSecret (absent or
// null: a public client, PKCE only; present: client_secret_basic), redirectUri (registered
// exactly; this script serves it itself, see below), email, password, screenshots (a
// directory, optional).
//
// Scenarios: flow (authorize, exchange, userinfo, refresh, revoke, remembered consent, revoke
// from the account page) and deny (the user refuses consent).
//
// Each scenario throws at the first difference, naming the step (exit code 1, the message on
// stderr); on success it prints one line of JSON with its observations for the Rust test.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

const [scenario, settingsJson] = process.argv.slice(2);
const cfg = JSON.parse(settingsJson);
const WAIT = 15000; // milliseconds, for each wait in the browser
const SCOPE = 'openid email profile offline_access';

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// --- Errors -----------------------------------------------------------------------------------

// The HTTP status behind an openid-client error: ResponseBodyError and
// WWWAuthenticateChallengeError carry it; a ClientError for an unexpected status has the Response
// as its cause.
const statusOf = (e) => e?.status ?? (e?.cause instanceof Response ? e.cause.status : undefined);

// Short form, for the observations: the OAuth error code (from the body, or from a
// WWW-Authenticate challenge) or else the library's code, and the status.
function rpError(e) {
  const challenge = Array.isArray(e?.cause) ? e.cause[0] : undefined;
  const name = e?.error ?? challenge?.parameters?.error ?? (challenge && `${challenge.scheme} challenge`) ?? e?.code ?? e?.name;
  const status = statusOf(e);
  return status ? `${name} (HTTP ${status})` : `${name}`;
}

// Long form, for failures: the chain of causes, down to what the server answered.
function describe(e) {
  const parts = [];
  for (let c = e, depth = 0; c !== undefined && depth < 4; c = c.cause, depth += 1) {
    if (c instanceof Response) {
      parts.push(`HTTP ${c.status} from ${c.url}`);
      break;
    }
    if (!(c instanceof Error)) {
      try { parts.push(JSON.stringify(c)); } catch { parts.push(String(c)); }
      break;
    }
    parts.push([c.message, c.code && `[${c.code}]`, c.status && `HTTP ${c.status}`, c.error && `error=${c.error}`,
      c.error_description].filter(Boolean).join(' '));
  }
  return parts.join(' <- ');
}

async function step(name, fn) {
  try {
    return await fn();
  } catch (e) {
    throw new Error(`${name}: ${describe(e)}`, { cause: e });
  }
}

// Runs a call that the server must refuse (a 4xx answer); returns the short form of the refusal.
async function refused(name, fn) {
  let result;
  try {
    result = await fn();
  } catch (e) {
    const status = statusOf(e);
    check(status >= 400 && status < 500, `${name}: expected a 4xx refusal from the server, got ${describe(e)}`);
    return { error: rpError(e), status };
  }
  throw new Error(`${name}: succeeded, expected a refusal (got ${JSON.stringify(result)})`);
}

const decodeJwt = (jwt) => {
  const parts = String(jwt).split('.');
  check(parts.length === 3, `not a JWS compact serialization: ${jwt}`);
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
};

// --- The app's redirect URI, and the browser ----------------------------------------------------

// Served here for real: playwright's page.route does not see the target of a redirect (a 302 from
// the server to the redirect URI bypasses it and Chromium shows "connection refused"), and the
// authorization server does answer with redirects.
const redirect = new URL(cfg.redirectUri);
const app = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>back in the app</p>'));
await new Promise((resolve, reject) => {
  app.once('error', (e) => reject(new Error(`serving the redirect URI ${cfg.redirectUri}: ${e.message}`)));
  app.listen(Number(redirect.port), redirect.hostname, resolve);
});

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox'], // root in CI
});

// A browser profile (one "device"); what its pages log goes to stderr, to explain failures.
async function device() {
  const ctx = await browser.newContext();
  ctx.setDefaultTimeout(WAIT);
  ctx.on('page', (page) => {
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') console.error(`[console ${m.type()}] ${m.text()}`);
    });
    page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  });
  return ctx;
}

if (cfg.screenshots) fs.mkdirSync(cfg.screenshots, { recursive: true });
const shot = (page, name) =>
  cfg.screenshots ? page.screenshot({ path: path.join(cfg.screenshots, `${name}.png`), fullPage: true }) : null;

// --- The relying party ----------------------------------------------------------------------------

// Public client (no secret): PKCE only, client_id in the body; else client_secret_basic.
const discover = () =>
  step('discovery', () => client.discovery(new URL(cfg.issuer), cfg.clientId, cfg.clientSecret ?? undefined,
    cfg.clientSecret ? client.ClientSecretBasic(cfg.clientSecret) : client.None(),
    { execute: [client.allowInsecureRequests], timeout: 15 })); // seconds, for each request

// A fresh authorization request: its URL and the values to check the answer against.
async function request(config) {
  const checks = { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: client.randomState(),
    expectedNonce: client.randomNonce(), idTokenExpected: true };
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirectUri, scope: SCOPE, state: checks.expectedState, nonce: checks.expectedNonce,
    code_challenge: await client.calculatePKCECodeChallenge(checks.pkceCodeVerifier), code_challenge_method: 'S256',
  });
  return { url, checks };
}

// Runs a browser action that ends on the redirect URI; returns that URL (with its query).
async function toRedirectUri(page, name, action) {
  const back = page.waitForRequest((r) => r.isNavigationRequest() && r.url().startsWith(cfg.redirectUri));
  back.catch(() => {}); // reported below, if the action itself went through
  await step(name, action);
  return new URL((await step(`${name}: waiting for the redirect to ${cfg.redirectUri}`, () => back)).url());
}

// First authorization in a fresh browser: sign-in page, then consent page; `button` is clicked.
async function authorizeFirstTime(page, url, button) {
  await step('authorization: opening the authorization URL', () => page.goto(url.href));
  await step('authorization: waiting for the hosted sign-in page', () => page.waitForURL(`${cfg.issuer}/ui/sign-in?**`));
  await shot(page, 'oauth-sign-in');
  await step('sign-in', async () => {
    await page.fill('#email', cfg.email);
    await page.fill('#password', cfg.password);
    await page.click('form[action$="/ui/sign-in"] button[type=submit]');
    await page.waitForURL(`${cfg.issuer}/ui/oauth/consent?**`);
  });
  const appName = await step('consent page: the app\'s name', () => page.textContent('#oauth-client-name'));
  check(appName?.trim(), 'consent page: #oauth-client-name is empty');
  await shot(page, `oauth-consent-${scenario}`);
  return toRedirectUri(page, `consent: clicking ${button}`, () => page.click(button));
}

const grant = (config, callback, checks) =>
  step(`code exchange (${callback.search})`, () => client.authorizationCodeGrant(config, callback, checks));

// --- Scenarios --------------------------------------------------------------------------------------

async function flow() {
  const config = await discover();
  const ctx = await device();
  const page = await ctx.newPage();

  // First authorization, through sign-in and consent.
  const first = await request(config);
  const callback = await authorizeFirstTime(page, first.url, '#oauth-approve');
  const tokens = await grant(config, callback, first.checks);
  const idToken = tokens.claims();
  check(idToken?.sub, `ID token: no sub in ${JSON.stringify(idToken)}`);
  check(idToken.nonce === first.checks.expectedNonce, `ID token: nonce ${idToken.nonce}, sent ${first.checks.expectedNonce}`);
  const aud = [idToken.aud].flat();
  check(aud.length === 1 && aud[0] === cfg.clientId, `ID token: aud ${JSON.stringify(idToken.aud)}, expected ${cfg.clientId}`);
  check(idToken.iss === cfg.issuer, `ID token: iss ${idToken.iss}, expected ${cfg.issuer}`);
  const access = await step('access token payload', () => decodeJwt(tokens.access_token));
  check(tokens.refresh_token, `code exchange: no refresh token (scope ${tokens.scope})`);

  const userinfo = await step('userinfo', () => client.fetchUserInfo(config, tokens.access_token, idToken.sub));
  check(userinfo.sub === idToken.sub, `userinfo: sub ${userinfo.sub}, ID token's ${idToken.sub}`);

  // Refresh (rotating), then revocation of the new refresh token.
  const refreshedTokens = await step('refresh', () => client.refreshTokenGrant(config, tokens.refresh_token));
  check(refreshedTokens.access_token && refreshedTokens.access_token !== tokens.access_token, 'refresh: no new access token');
  check(refreshedTokens.refresh_token && refreshedTokens.refresh_token !== tokens.refresh_token,
    'refresh: the refresh token was not rotated');
  const refreshed = await step('refreshed access token payload', () => decodeJwt(refreshedTokens.access_token));
  await step('revocation of the refresh token', () => client.tokenRevocation(config, refreshedTokens.refresh_token));
  const revokedRefresh = await refused('refresh with the revoked refresh token',
    () => client.refreshTokenGrant(config, refreshedTokens.refresh_token));

  // Second authorization from the same (signed-in) browser: the consent is remembered.
  const visited = [];
  page.on('framenavigated', (frame) => frame === page.mainFrame() && visited.push(frame.url()));
  const second = await request(config);
  const back = page.waitForRequest((r) => r.isNavigationRequest() && r.url().startsWith(cfg.redirectUri));
  back.catch(() => {}); // handled by the race below, unless opening the URL fails first
  await step('second authorization: opening the authorization URL', () => page.goto(second.url.href));
  const outcome = await step('second authorization: waiting for the redirect URI', () => Promise.race([
    back.then((r) => new URL(r.url())),
    page.waitForSelector('#oauth-approve').then(() => 'consent'),
    page.waitForURL(`${cfg.issuer}/ui/sign-in?**`).then(() => 'sign-in'),
  ]));
  check(outcome !== 'sign-in', 'second authorization: the browser was sent to the sign-in page again');
  // The consent page's address is passed through (it sends the browser on by itself); the
  // question itself must not be asked again.
  const consentShownSecondTime = outcome === 'consent';
  check(!consentShownSecondTime, `second authorization: the consent page was shown again (visited ${visited.join(' ')})`);
  // The page has arrived at the redirect URI before it goes anywhere else.
  await step('second authorization: landing at the redirect URI', () => page.waitForURL(`${cfg.redirectUri}**`));
  const tokens2 = await grant(config, outcome, second.checks);
  check(tokens2.claims()?.sub === idToken.sub, 'second authorization: another subject');

  // Revoking the app on the account page ends its grant.
  await step('account page', async () => {
    await page.goto(`${cfg.issuer}/ui/account`);
    const row = `#oauth-apps tr[data-client-id="${cfg.clientId}"]`;
    await page.waitForSelector(`${row} button.revoke-app`);
    await shot(page, 'oauth-account-apps');
    const posted = page.waitForRequest((r) => r.isNavigationRequest() && r.method() === 'POST');
    posted.catch(() => {}); // awaited below, unless the click fails first
    await page.click(`${row} button.revoke-app`);
    await posted;
    await page.waitForURL(`${cfg.issuer}/ui/account**`);
    await page.waitForLoadState('load');
    check((await page.locator(row).count()) === 0, 'the app is still listed after "Revoke access"');
  });
  const refreshAfter = await refused('refresh after the account page revoked the app',
    () => client.refreshTokenGrant(config, tokens2.refresh_token));
  const userinfoAfter = await refused('userinfo after the account page revoked the app',
    () => client.fetchUserInfo(config, tokens2.access_token, idToken.sub));
  check(userinfoAfter.status === 401, `userinfo after revocation: HTTP ${userinfoAfter.status}, expected 401`);

  return {
    sub: idToken.sub, idToken, userinfo, access, refreshed,
    revokedRefreshError: revokedRefresh.error, consentShownSecondTime,
    afterAccountRevoke: { refreshError: refreshAfter.error, userinfoError: userinfoAfter.error },
  };
}

async function deny() {
  const config = await discover();
  const page = await (await device()).newPage();
  const { url, checks } = await request(config);
  const callback = await authorizeFirstTime(page, url, '#oauth-deny');
  const q = callback.searchParams;
  check(q.get('state') === checks.expectedState, `deny: state ${q.get('state')}, sent ${checks.expectedState}`);
  check(!q.has('code'), 'deny: a code came back');
  // openid-client must see it as an error response (this also checks iss against the metadata).
  const rp = await client.authorizationCodeGrant(config, callback, checks).then(
    () => { throw new Error('deny: openid-client accepted the refusal'); },
    (e) => { check(e instanceof client.AuthorizationResponseError, `deny: ${describe(e)}`); return e.error; });
  return { error: q.get('error'), state: q.get('state'), iss: q.get('iss'), rpError: rp };
}

const scenarios = { flow, deny };
try {
  check(scenarios[scenario], `unknown scenario ${scenario}`);
  console.log(JSON.stringify(await scenarios[scenario]()));
} finally {
  await browser.close();
  app.close();
}
