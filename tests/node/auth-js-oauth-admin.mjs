// The OAuth client scenarios of @supabase/auth-js's own test suite (its `describe('OAuth
// Admin')` block), run with the real, unmodified admin client against the server:
//
//   node auth-js-oauth-admin.mjs <server URL> <admin secret>
//
// Prints one JSON object: scenario name → {pass, detail}.
import { GoTrueAdminApi } from '@supabase/auth-js';

const [url, adminSecret] = process.argv.slice(2);
const admin = new GoTrueAdminApi({ url, headers: { Authorization: `Bearer ${adminSecret}` } });
const oauth = admin.oauth;

let n = 0;
const params = () => ({
  client_name: `Test OAuth Client ${Date.now()}${n++}`,
  redirect_uris: ['https://example.com/callback', 'https://example.com/callback2'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
});
const expect = (cond, what) => {
  if (!cond) throw new Error(what);
};

const scenarios = {
  'oauth client lifecycle: create, get, update, delete': async () => {
    const input = params();
    const { data: created, error } = await oauth.createClient(input);
    expect(!error, `create: ${error?.message}`);
    expect(created.client_id, 'client_id');
    expect(created.client_secret, 'client_secret on create');
    expect(created.client_name === input.client_name, 'client_name');
    const { data: got, error: getError } = await oauth.getClient(created.client_id);
    expect(!getError && got.client_id === created.client_id, `get: ${getError?.message}`);
    expect(got.client_secret === undefined, 'no secret on get');
    const update = { client_name: `Updated ${Date.now()}`, logo_uri: 'https://example.com/logo.png' };
    const { data: updated, error: updateError } = await oauth.updateClient(created.client_id, update);
    expect(!updateError, `update: ${updateError?.message}`);
    expect(updated.client_name === update.client_name && updated.logo_uri === update.logo_uri, 'updated fields');
    const { error: deleteError } = await oauth.deleteClient(created.client_id);
    expect(!deleteError, `delete: ${deleteError?.message}`);
    const { data: gone, error: goneError } = await oauth.getClient(created.client_id);
    expect(gone === null && goneError, 'get after delete fails');
  },
  'listClients() returns registered OAuth clients with pagination': async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const { data, error } = await oauth.createClient(params());
      expect(!error, `create: ${error?.message}`);
      ids.push(data.client_id);
    }
    const { data, error } = await oauth.listClients();
    expect(!error, `list: ${error?.message}`);
    expect(Array.isArray(data.clients) && data.clients.length >= 3, 'at least three');
    for (const id of ids) expect(data.clients.some((c) => c.client_id === id), `lists ${id}`);
    const { data: page, error: pageError } = await oauth.listClients({ page: 1, perPage: 2 });
    expect(!pageError && Array.isArray(page.clients) && page.clients.length > 0, 'a page');
    for (const id of ids) await oauth.deleteClient(id);
  },
  'regenerateClientSecret() generates new secret': async () => {
    const { data: created } = await oauth.createClient(params());
    const { data, error } = await oauth.regenerateClientSecret(created.client_id);
    expect(!error, `regenerate: ${error?.message}`);
    expect(data.client_secret && data.client_secret !== created.client_secret, 'a new secret');
    await oauth.deleteClient(created.client_id);
  },
  'createClient() returns AuthError with invalid redirect_uris': async () => {
    const { data, error } = await oauth.createClient({ ...params(), redirect_uris: [] });
    expect(data === null && error, 'an error');
    expect(/redirect_uris|required|invalid/i.test(error.message), `message: ${error.message}`);
  },
  'getClient() returns AuthError for non-existent client': async () => {
    const { data, error } = await oauth.getClient('00000000-0000-0000-0000-000000000000');
    expect(data === null && error, 'an error');
  },
  'updateClient() accepts partial updates': async () => {
    const { data: created } = await oauth.createClient(params());
    const { data, error } = await oauth.updateClient(created.client_id, { logo_uri: 'https://example.com/new-logo.png' });
    expect(!error, `update: ${error?.message}`);
    expect(data.logo_uri === 'https://example.com/new-logo.png', 'logo changed');
    expect(data.client_name === created.client_name, 'name kept');
    await oauth.deleteClient(created.client_id);
  },
  'createClient() works with minimal required fields': async () => {
    const { data, error } = await oauth.createClient({ client_name: 'Minimal', redirect_uris: ['https://example.com/cb'] });
    expect(!error, `create: ${error?.message}`);
    expect(data.client_id && data.grant_types && data.response_types, 'defaults');
    await oauth.deleteClient(data.client_id);
  },
  'createClient() accepts multiple redirect_uris': async () => {
    const redirect_uris = ['https://example.com/callback', 'http://localhost:3000/callback', 'https://app.example.com/auth'];
    const { data, error } = await oauth.createClient({ ...params(), redirect_uris });
    expect(!error, `create: ${error?.message}`);
    expect(JSON.stringify(data.redirect_uris) === JSON.stringify(redirect_uris), 'same URIs, same order');
    await oauth.deleteClient(data.client_id);
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
