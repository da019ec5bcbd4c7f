import { CookieJar, expectStatus, request } from '../lib/http.js';
import { login, passwordStep, redirectTo, type StepContext, type StepHandler } from './flow.js';
import type { Target } from './target.js';

/**
 * An authenticator as the drivers need it (test/helpers/soft-authenticator.ts `SoftAuthenticator` is one,
 * made for the issuer's origin): answers the server's WebAuthn options JSON with the credential JSON a browser would post.
 */
export interface PasskeyDevice {
  create(options: never): Promise<unknown>;
  get(options: never): Promise<unknown>;
}

/** A user with one registered passkey. A device's sign counter moves with each assertion, so a device serves one login at a time. */
export interface PasskeyUser {
  username: string;
  password: string;
  device: PasskeyDevice;
}

async function postJson(t: Target, jar: CookieJar, path: string, body: unknown, status: number): Promise<Record<string, unknown>> {
  const res = await request(t.pool, {
    path,
    method: 'POST',
    body: JSON.stringify(body),
    headers: { accept: 'application/json', 'content-type': 'application/json', ...(jar.header() ? { cookie: jar.header()! } : {}) },
  });
  jar.store(res);
  expectStatus(path, res, status);
  return JSON.parse(res.text) as Record<string, unknown>;
}

/**
 * Registers `device` for the user through the self-service API, as a user would: a password
 * sign-in (the session it leaves is fresh enough to add a first factor), then
 * POST /api/v1/mfa/passkey/register/begin and …/finish with the session cookie (a JSON body is
 * the CSRF proof).
 */
export async function registerPasskey(t: Target, user: PasskeyUser): Promise<void> {
  const jar = new CookieJar();
  await login(t, { onStep: passwordStep(user.username, user.password), jar });
  const options = await postJson(t, jar, '/api/v1/mfa/passkey/register/begin', {}, 200);
  const credential = await user.device.create(options as never);
  await postJson(t, jar, '/api/v1/mfa/passkey/register/finish', { credential }, 201);
}

/** begin → the device signs the challenge → finish; timed as `passkey_begin` and `passkey_finish`. */
async function assert(ctx: StepContext, device: PasskeyDevice, prefix: string): Promise<Record<string, unknown>> {
  const options = await ctx.post(`${prefix}/begin`, {}, 'passkey_begin');
  const credential = await device.get(options as never);
  return ctx.post(`${prefix}/finish`, { credential }, 'passkey_finish');
}

/** Should the server offer to trust the device, it is declined (timed as `trust_device`). */
async function declineTrust(ctx: StepContext, body: Record<string, unknown>): Promise<string> {
  return redirectTo(body.status === 'trust_device' ? await ctx.post('trust-device', { trust: false }, 'trust_device') : body);
}

/**
 * Password, then the passkey as second factor: POST …/login answers `mfa_required` with `passkey`
 * among the methods, then POST …/mfa/passkey/begin and …/mfa/passkey/finish. Timed as `password`,
 * `passkey_begin`, `passkey_finish`.
 */
export function passwordPasskeyStep(user: PasskeyUser): StepHandler {
  return async (ctx) => {
    if (ctx.step !== 'login') throw new Error(`unexpected interaction step ${ctx.step}`);
    const first = await ctx.post('login', { username: user.username, password: user.password }, 'password');
    if (first.status !== 'mfa_required' || !Array.isArray(first.methods) || !first.methods.includes('passkey')) {
      throw new Error(`password step: expected mfa_required with passkey, got ${JSON.stringify(first).slice(0, 200)}`);
    }
    return declineTrust(ctx, await assert(ctx, user.device, 'mfa/passkey'));
  };
}

/** Passwordless: no username, no password; POST …/passkey/begin (no allowCredentials) and …/passkey/finish. */
export function passwordlessStep(user: PasskeyUser): StepHandler {
  return async (ctx) => {
    if (ctx.step !== 'login') throw new Error(`unexpected interaction step ${ctx.step}`);
    return declineTrust(ctx, await assert(ctx, user.device, 'passkey'));
  };
}
