/**
 * A bare oidc-provider (default in-memory adapter, one static client, no koa app around it) with
 * the same token-relevant settings as src/oidc/provider.ts: RS256, PKCE, refresh rotation,
 * client_credentials and the same JWT resource server. It is the reference for S2/S3 ratios.
 * Interactions are answered at once (no password): it is only used to obtain refresh tokens.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Configuration } from 'oidc-provider';
import { loadGrantOrAutoConsent } from '../../src/oidc/provider.js';
import { maxLifetimeMs, serveIpc } from './child.js';

const clientId = process.env.BENCH_CLIENT_ID!;
const clientSecret = process.env.BENCH_CLIENT_SECRET!;
const redirectUri = process.env.BENCH_REDIRECT_URI!;
if (!clientId || !clientSecret || !redirectUri) throw new Error('BENCH_CLIENT_ID, BENCH_CLIENT_SECRET and BENCH_REDIRECT_URI are required');

const server = http.createServer();
server.keepAliveTimeout = 65_000;
await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
const issuer = `http://localhost:${port}`;
const apiAudience = `${issuer}/api`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', use: 'sig', alg: 'RS256' };

// Same values as config/default.yaml.
const ttl = { accessToken: 3600, idToken: 3600, code: 60, interaction: 900, refresh: 1209600, clientCredentials: 600 };

const configuration: Configuration = {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  findAccount: async (_ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, preferred_username: sub, email: `${sub}@example.test`, email_verified: true, updated_at: 1700000000 }),
  }),
  claims: {
    openid: ['sub', 'acr', 'amr', 'auth_time'],
    profile: ['preferred_username', 'updated_at'],
    email: ['email', 'email_verified'],
    phone: ['phone_number', 'phone_number_verified'],
  },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'phone', 'api'],
  acrValues: ['aal1', 'aal2', 'aal3'],
  responseTypes: ['code'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx) => (ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'client_credentials' ? apiAudience : undefined),
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (resource !== apiAudience) throw new Error('unknown resource');
        return { scope: 'api', audience: resource, accessTokenFormat: 'jwt', accessTokenTTL: ttl.accessToken, jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
  rotateRefreshToken: true,
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  // The same auto-consent as ours for first-party clients (the bench client is one).
  loadExistingGrant: (ctx) => loadGrantOrAutoConsent(ctx, async () => true),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: {
    AccessToken: ttl.accessToken,
    AuthorizationCode: ttl.code,
    IdToken: ttl.idToken,
    Interaction: ttl.interaction,
    ClientCredentials: ttl.clientCredentials,
    RefreshToken: ttl.refresh,
    Grant: ttl.refresh,
    Session: 1800,
  },
};

const provider = new Provider(issuer, configuration);
const callback = provider.callback();
let logins = 0;
server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
  if (req.url?.startsWith('/interaction/')) {
    logins += 1;
    provider
      .interactionFinished(
        req,
        res,
        {
          login: { accountId: `bench-user-${logins % 64}`, acr: 'aal1', amr: ['pwd'], ts: Math.floor(Date.now() / 1000), remember: true },
        },
        { mergeWithLastSubmission: false },
      )
      .catch(() => {
        res.statusCode = 400;
        res.end();
      });
    return;
  }
  void callback(req, res);
});

const ipc = serveIpc({
  counters: () => ({ pg: {}, redis: {} }),
  maxLifetimeMs: maxLifetimeMs(),
  async close() {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  },
});
ipc.send({ type: 'ready', url: `http://127.0.0.1:${port}`, issuer, pid: process.pid });
