import crypto from 'node:crypto';
import { Pool } from 'undici';
import { HttpStatusError } from './recorder.js';

export interface Resp {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One keep-alive pool per server; `connections` bounds the sockets (one per virtual user is enough). */
export function createPool(origin: string, connections: number): Pool {
  return new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
}

export async function request(pool: Pool, opts: { path: string; method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string }): Promise<Resp> {
  const res = await pool.request({ path: opts.path, method: opts.method ?? 'GET', headers: opts.headers, body: opts.body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

export function expectStatus(step: string, res: Resp, ...ok: number[]): void {
  if (!ok.includes(res.status)) throw new HttpStatusError(step, res.status, res.text);
}

export function header(res: Resp, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Path and query of a URL that may be absolute (the issuer may say localhost while we connect to 127.0.0.1). */
export function pathOf(location: string): string {
  const u = new URL(location, 'http://placeholder');
  return u.pathname + u.search;
}

/** A per-login cookie jar: every cookie goes back on every request (paths are not checked, as in test/helpers/browser.ts). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(res: Resp): void {
    const raw = res.headers['set-cookie'];
    if (!raw) return;
    for (const line of Array.isArray(raw) ? raw : [raw]) {
      const pair = line.split(';', 1)[0]!;
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export const basicAuth = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

export const randomB64u = (bytes = 32) => crypto.randomBytes(bytes).toString('base64url');
export const s256 = (verifier: string) => crypto.createHash('sha256').update(verifier).digest('base64url');

/** Decodes (does not verify) a JWT payload; undefined when the token is not a JWT. */
export function jwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
