import type { Pool } from 'undici';

/** One server under test, as the drivers see it. */
export interface Target {
  label: 'idp' | 'bare';
  pool: Pool;
  /** Loopback origin we connect to. */
  url: string;
  issuer: string;
  paths: { authorization: string; token: string; jwks: string; discovery: string };
  client: { id: string; secret: string; redirectUri: string; authorization: string };
  /** Resource indicator of the JWT-format API (`<issuer>/api`). */
  apiResource: string;
}
