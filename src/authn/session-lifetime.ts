import { parseIp } from '../risk/ip.js';
import type { SessionSettings } from '../policy/settings.js';

/** How long one SSO session may live, as its organisation's `sessions` settings give it at sign-in. Times are epoch seconds. */
export interface SessionLifetime {
  /** The absolute end. */
  endsAt: number;
  /** The idle limit; as long as the whole lifetime where it does not apply (a remembered AAL1 session). */
  idleSeconds: number;
  /** "Keep me signed in" was asked and allowed. */
  rememberMe: boolean;
  /** The cookie outlives the browser session (it carries `Expires`); otherwise it is a browser-session cookie. */
  persistent: boolean;
}

/**
 * The lifetime a login gets. Without "keep me signed in" the cookie ends with the browser and the
 * session at `session_timeout` or after `idle_timeout` without use. With it the cookie persists, but
 * never beyond what the achieved assurance allows (NIST SP 800-63B): an AAL2 or AAL3 session still
 * ends at `session_timeout` and after `idle_timeout`; only an AAL1 session may last
 * `remember_me_duration` (at most 30 days, and never less than `session_timeout`), with no idle limit.
 */
export function lifetimeOf(settings: SessionSettings, login: { ts: number; acr?: string | null }, askedRememberMe: boolean): SessionLifetime {
  const rememberMe = askedRememberMe && settings.allow_remember_me;
  if (rememberMe && (login.acr ?? 'aal1') === 'aal1') {
    const lasts = Math.max(settings.remember_me_duration, settings.session_timeout);
    return { endsAt: login.ts + lasts, idleSeconds: lasts, rememberMe, persistent: true };
  }
  return {
    endsAt: login.ts + settings.session_timeout,
    idleSeconds: Math.min(settings.idle_timeout, settings.session_timeout),
    rememberMe,
    persistent: rememberMe,
  };
}

/** How long the provider keeps the session from now (its stored TTL, and the cookie's `Expires` when persistent). */
export const ttlOf = (lifetime: Pick<SessionLifetime, 'endsAt' | 'idleSeconds'>, nowSec: number): number =>
  Math.max(1, Math.min(lifetime.idleSeconds, lifetime.endsAt - nowSec));

/** Where a request comes from, as far as a session's bindings go. */
export interface SeenFrom {
  ip: string;
  /** Browser and operating system family of the User-Agent (null when unknown). */
  uaFamily: string | null;
  /** SHA-256 of the browser's device-key cookie, if it sent one. */
  deviceKey: string | null;
}

/** What is recorded of a session at sign-in (a `session_records` row, in the units the judge needs). */
export interface RecordedSession extends SeenFrom {
  authTime: number;
  /** Epoch seconds. */
  endsAt: number;
  /** Epoch seconds. */
  lastActiveAt: number;
  idleSeconds: number;
  rememberMe: boolean;
  acr: string | null;
}

export type SessionVerdict =
  | { live: true; lifetime: Pick<SessionLifetime, 'endsAt' | 'idleSeconds'> }
  | { live: false; reason: 'session_timeout' | 'idle_timeout' }
  | { live: false; reason: 'binding_mismatch'; kind: 'ip' | 'device' };

/**
 * The same client address for a bound session: IPv4 exactly, IPv6 within the same /64 (one
 * subscriber's network, where privacy addresses rotate). An address that is not an IP (a proxy
 * forwarded garbage) matches only itself.
 */
export function sameClientAddress(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    const x = parseIp(a);
    const y = parseIp(b);
    if (x.kind() !== y.kind()) return false;
    return x.kind() === 'ipv4' ? x.toString() === y.toString() : x.match(y, 64);
  } catch {
    return false;
  }
}

/**
 * Whether a signed-in session may be used now, from its record, its organisation's settings in force
 * and the clock (epoch seconds). The settings in force can only shorten what the record gave at sign-in.
 * A session signed in before sessions were recorded has no record: the configured defaults judge its
 * absolute lifetime, and the provider's stored TTL its idle time.
 */
export function judgeSession(input: {
  record: RecordedSession | undefined;
  settings: SessionSettings | undefined;
  defaults: { absoluteSeconds: number; idleSeconds: number };
  authTime: number;
  now: number;
  /** Where this use comes from; without it (a session looked up by id, not used by a browser) no binding is judged. */
  seen?: SeenFrom;
}): SessionVerdict {
  const { record, settings, now } = input;
  if (!record || !settings) {
    const endsAt = input.authTime + input.defaults.absoluteSeconds;
    if (now >= endsAt) return { live: false, reason: 'session_timeout' };
    return { live: true, lifetime: { endsAt, idleSeconds: input.defaults.idleSeconds } };
  }
  const current = lifetimeOf(settings, { ts: record.authTime, acr: record.acr }, record.rememberMe);
  const endsAt = Math.min(record.endsAt, current.endsAt);
  const idleSeconds = Math.min(record.idleSeconds, current.idleSeconds);
  if (now >= endsAt) return { live: false, reason: 'session_timeout' };
  if (now >= record.lastActiveAt + idleSeconds) return { live: false, reason: 'idle_timeout' };
  const { seen } = input;
  if (!seen) return { live: true, lifetime: { endsAt, idleSeconds } };
  if (settings.bind_to_ip && !sameClientAddress(record.ip, seen.ip)) return { live: false, reason: 'binding_mismatch', kind: 'ip' };
  if (settings.bind_to_device && (record.deviceKey === null || record.deviceKey !== seen.deviceKey || record.uaFamily !== seen.uaFamily)) {
    return { live: false, reason: 'binding_mismatch', kind: 'device' };
  }
  return { live: true, lifetime: { endsAt, idleSeconds } };
}
