// A real OpenID Connect provider for the integration tests: node-oidc-provider (OpenID
// Certified), with its development login form, on a loopback port.
//
//   node provider.mjs <port> '<clients as JSON>'
//
// Any login name is accepted with any password; the accounts below give it claims. Prints
// "ready" once listening.
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const clients = JSON.parse(process.argv[3]);
const issuer = `http://127.0.0.1:${port}`;

// Login name → claims. Unknown names get a verified example.com address.
const accounts = {
  alice: { email: 'alice@example.com', email_verified: true, name: 'Alice' },
  bob: { email: 'bob@example.com', email_verified: true, name: 'Bob', groups: ['editors'] },
  // Claims someone else's address without having verified it.
  mallory: { email: 'victim@example.com', email_verified: false, name: 'Mallory' },
};

const provider = new Provider(issuer, {
  clients,
  async findAccount(ctx, id) {
    const claims = accounts[id] ?? { email: `${id}@example.com`, email_verified: true };
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
  },
  // ID tokens carry the claims (not only the userinfo endpoint).
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => false },
  cookies: { keys: ['test-cookie-key-0123456789'] },
  ttl: { AuthorizationCode: 60, IdToken: 300, AccessToken: 300, Interaction: 300, Session: 300, Grant: 300 },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => {
  console.log('ready');
});
