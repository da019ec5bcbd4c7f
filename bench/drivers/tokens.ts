import { expectStatus, form, jwtPayload, request } from '../lib/http.js';
import type { TokenSet } from './flow.js';
import type { Target } from './target.js';

export type TokenFormat = 'jwt' | 'opaque';
export const formatOf = (token: string): TokenFormat => (jwtPayload(token) ? 'jwt' : 'opaque');

const tokenRequest = (t: Target, fields: Record<string, string>) =>
  request(t.pool, {
    path: t.paths.token,
    method: 'POST',
    headers: { authorization: t.client.authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form(fields),
  });

/** One refresh_token grant; the chain moves on to the rotated refresh token. */
export async function refresh(t: Target, chain: { refreshToken: string }): Promise<TokenSet> {
  const res = await tokenRequest(t, { grant_type: 'refresh_token', refresh_token: chain.refreshToken });
  expectStatus('refresh', res, 200);
  const tokens = JSON.parse(res.text) as TokenSet;
  if (!tokens.access_token || !tokens.id_token || !tokens.refresh_token) throw new Error(`refresh response lacks a token: ${Object.keys(tokens).join(',')}`);
  chain.refreshToken = tokens.refresh_token;
  return tokens;
}

export async function clientCredentials(t: Target): Promise<{ access_token: string }> {
  const res = await tokenRequest(t, { grant_type: 'client_credentials', scope: 'api' });
  expectStatus('client_credentials', res, 200);
  const tokens = JSON.parse(res.text) as { access_token?: string };
  if (!tokens.access_token) throw new Error('client_credentials response lacks access_token');
  return tokens as { access_token: string };
}
