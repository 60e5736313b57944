// A real OpenID provider for the service's tests: clients get JWT access tokens by the client
// credentials grant, carrying the roles and departments their metadata gives them.
//
//   node provider.mjs <port>          (or OIDC_PORT)
//   OIDC_KEYS_FILE=keys.json          {"keys": [private JWKs], "signing_kid": "..."}; absent: a fresh RSA key
//   OIDC_REDIRECT_URIS=a,b            the dashboard's sign-in: its clients registered with these redirect
//                                     URIs, and the provider's development login and consent pages on
//                                     (any login, any password; the login names an account below)
//
// SIGHUP re-reads the keys file and swaps in a provider built from it on the same listening socket,
// so that a test can rotate the signing key without the port ever being free for someone else.
// Each client's secret is "<client_id>-secret".

import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const port = Number(process.argv[2] ?? process.env.OIDC_PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node provider.mjs <port>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const DEFAULT_AUDIENCE = 'urn:ai-readiness';
// Allowed only so that a test can hold a valid token issued for someone else.
const RESOURCES = new Set([DEFAULT_AUDIENCE, 'urn:other']);
const ACCESS_TOKEN_TTL = 300;

// `token_claims` is merged into every access token the client gets; the provider's own claims win.
const CLIENTS = [
  { client_id: 'reader', token_claims: { roles: ['reader'] } },
  { client_id: 'writer', token_claims: { roles: 'writer' } },
  { client_id: 'writer-claims', token_claims: { roles: ['writer'], departments: ['claims'] } },
  { client_id: 'approver', token_claims: { roles: ['approver'] } },
  { client_id: 'approver-2', token_claims: { roles: ['reader', 'approver'], preferred_username: 'Steering Committee' } },
  { client_id: 'admin', token_claims: { roles: ['admin'], departments: ['claims'] } },
  { client_id: 'norole', token_claims: { roles: ['Unknown.Role'] } },
  { client_id: 'keycloak', token_claims: { realm_access: { roles: ['offline_access', 'Readiness.Writer'] } } },
].map((client) => ({
  client_secret: `${client.client_id}-secret`,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  ...client,
}));

// The dashboard's sign-in: the authorization code flow with PKCE, as a public client and as a
// confidential one (client_secret_basic).
const REDIRECT_URIS = (process.env.OIDC_REDIRECT_URIS ?? '').split(',').filter(Boolean);
const SIGN_IN_CLIENTS = [
  { client_id: 'dashboard', token_endpoint_auth_method: 'none' },
  { client_id: 'dashboard-confidential', client_secret: 'dashboard-confidential-secret' },
].map((client) => ({
  grant_types: ['authorization_code'],
  response_types: ['code'],
  redirect_uris: REDIRECT_URIS,
  token_endpoint_auth_method: 'client_secret_basic',
  ...client,
}));

// The people who sign in, by the login they type; anyone else is a reader of every department.
const ACCOUNTS = {
  'claims-analyst': { roles: ['reader'], departments: ['claims'] },
  steering: { roles: ['approver'], name: 'Steering Committee' },
  outsider: { roles: ['Unknown.Role'] },
  // The decision room's people: who asks, who attests, who decides, and a committee of one department.
  'pilot-lead': { roles: ['writer'], name: 'Pilot Lead' },
  'risk-officer': { roles: ['approver'], name: 'Risk Officer' },
  'committee-chair': { roles: ['approver'], name: 'Committee Chair' },
  'claims-approver': { roles: ['approver'], departments: ['claims'], name: 'Claims Approver' },
};

async function findAccount(_ctx, sub) {
  const { name, ...claims } = ACCOUNTS[sub] ?? { roles: ['reader'] };
  return {
    accountId: sub,
    claims: async () => ({ sub, preferred_username: name ?? sub, ...claims }),
  };
}

function loadKeys() {
  const path = process.env.OIDC_KEYS_FILE;
  if (!path) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'generated', alg: 'RS256', use: 'sig' };
    return { keys: [jwk], signingKid: jwk.kid };
  }
  const { keys, signing_kid: signingKid } = JSON.parse(readFileSync(path, 'utf8'));
  return { keys, signingKid: signingKid ?? keys[0].kid };
}

function build() {
  const { keys, signingKid } = loadKeys();
  const provider = new Provider(issuer, {
    clients: REDIRECT_URIS.length ? [...CLIENTS, ...SIGN_IN_CLIENTS] : CLIENTS,
    jwks: { keys },
    findAccount,
    // The roles and departments travel in the ID token, where the dashboard reads them.
    claims: { openid: ['sub', 'roles', 'departments'], profile: ['preferred_username'] },
    conformIdTokenClaims: false,
    extraClientMetadata: {
      properties: ['token_claims'],
      validator(_ctx, key, value) {
        if (key === 'token_claims' && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
          throw new errors.InvalidClientMetadata('token_claims must be an object');
        }
      },
    },
    extraTokenClaims: async (_ctx, token) => {
      const client = await provider.Client.find(token.clientId);
      return client?.token_claims ?? undefined;
    },
    features: {
      devInteractions: { enabled: REDIRECT_URIS.length > 0 },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => DEFAULT_AUDIENCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          if (!RESOURCES.has(resource)) {
            throw new errors.InvalidTarget();
          }
          return {
            audience: resource,
            scope: '',
            accessTokenFormat: 'jwt',
            accessTokenTTL: ACCESS_TOKEN_TTL,
            jwt: { sign: { alg: 'RS256', kid: signingKid } },
          };
        },
      },
    },
    ttl: { ClientCredentials: ACCESS_TOKEN_TTL },
  });
  return provider;
}

let handler = build().callback();
const server = createServer((req, res) => handler(req, res));

process.on('SIGHUP', () => {
  try {
    handler = build().callback();
    console.log('keys reloaded');
  } catch (error) {
    // Keep serving the old keys: the test waiting for the new ones fails with this message.
    console.error(`keys not reloaded: ${error.stack ?? error}`);
  }
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

server.listen(port, '127.0.0.1', () => console.log(`listening on ${issuer}`));
