import type { Context } from 'koa';
import type { Clock } from '../../lib/clock.js';
import { hmac, randomToken, safeEqual } from '../../lib/crypto.js';
import { IdpError } from '../../lib/errors.js';
import type { EphemeralStore } from '../../store/ephemeral-store.js';
import type { User } from '../../store/database.js';
import type { ConsoleAuth, ConsolePrincipal } from '../middleware/admin-auth.js';

/**
 * An administrator's console session ends after 15 minutes without a request and 8 hours after
 * sign-in, whichever comes first (NIST SP 800-63B §4.2.3 and §4.3.3 for AAL2/AAL3 reauthentication;
 * OWASP ASVS 5 V7.3 for administrative sessions): shorter than a user's SSO session on purpose.
 */
export const CONSOLE_IDLE_SECONDS = 15 * 60;
export const CONSOLE_ABSOLUTE_SECONDS = 8 * 3600;
/** "Last seen" is written at most this often per session (one write a minute, not one per request). */
const TOUCH_EVERY_MS = 60_000;

/** The role that makes a user an administrator, and the organisation whose administrators reach every organisation. */
export const ADMIN_ROLE = 'admin';
export const GLOBAL_ORGANIZATION_SLUG = 'default';

/**
 * Who may use the console, decided from the database: a user with the `admin` role. In the `default`
 * organisation (where operators and the bootstrap key's users live) that is a global administrator,
 * who reaches every organisation as an `admin` API key bound to none does; in any other organisation
 * it is that organisation's administrator, confined to it as a key bound to it is.
 */
export function adminScopeOf(
  user: Pick<User, 'status' | 'roles' | 'organizationId'>,
  organizationSlug: string | undefined,
): ConsolePrincipal['organizationId'] | undefined {
  if (user.status !== 'active' || !user.roles.includes(ADMIN_ROLE) || organizationSlug === undefined) return undefined;
  return organizationSlug === GLOBAL_ORGANIZATION_SLUG ? null : user.organizationId;
}

interface Stored {
  userId: string;
  /** null: a global administrator. */
  organizationId: string | null;
  /** For the IdP's RP-initiated logout (id_token_hint). */
  idToken: string;
  createdAt: number;
  seenAt: number;
}

export interface ConsoleSession extends ConsolePrincipal {
  id: string;
  idToken: string;
  /** The value the console sends back in `X-CSRF-Token` (and the sign-out form): derived from the session id. */
  csrf: string;
}

export interface ConsoleSessionDeps {
  ephemeral: EphemeralStore;
  /** Keys the stored id (never the id itself) and the CSRF token. */
  key: string;
  clock: Clock;
  /** The administrator as the database says now: a role taken away or an account disabled ends the console at once. */
  stillAdmin(userId: string, organizationId: string | null): Promise<boolean>;
  /** Whether the issuer is https: cookies are Secure then (`__Host-`), plain on http://localhost for development. */
  secure: boolean;
}

export function createConsoleSessions(deps: ConsoleSessionDeps) {
  const { ephemeral, key, clock } = deps;
  const storeKey = (id: string) => `admin-console:${hmac(key, `session:${id}`)}`;
  const csrfOf = (id: string) => hmac(key, `csrf:${id}`);
  const cookieName = deps.secure ? '__Host-idp_admin' : 'idp_admin';
  const cookieOptions = { httpOnly: true, sameSite: 'strict' as const, secure: deps.secure, path: '/', overwrite: true, signed: false };

  const ttlOf = (s: Stored, now: number) =>
    Math.max(1, Math.ceil(Math.min(CONSOLE_IDLE_SECONDS * 1000, s.createdAt + CONSOLE_ABSOLUTE_SECONDS * 1000 - now) / 1000));

  async function read(id: string): Promise<ConsoleSession | undefined> {
    if (id.length < 32 || id.length > 64) return undefined;
    const raw = await ephemeral.get(storeKey(id));
    if (!raw) return undefined;
    const s = JSON.parse(raw) as Stored;
    const now = clock.now();
    if (
      now >= s.createdAt + CONSOLE_ABSOLUTE_SECONDS * 1000 ||
      now >= s.seenAt + CONSOLE_IDLE_SECONDS * 1000 ||
      !(await deps.stillAdmin(s.userId, s.organizationId))
    ) {
      await ephemeral.del(storeKey(id));
      return undefined;
    }
    if (now - s.seenAt >= TOUCH_EVERY_MS) {
      const touched = { ...s, seenAt: now };
      await ephemeral.set(storeKey(id), JSON.stringify(touched), ttlOf(touched, now));
    }
    return { id, userId: s.userId, organizationId: s.organizationId, idToken: s.idToken, csrf: csrfOf(id) };
  }

  return {
    /** A new session under a fresh random id (never one the browser brought: no fixation), set as the cookie. */
    async create(ctx: Context, principal: ConsolePrincipal, idToken: string): Promise<void> {
      const id = randomToken(32);
      const now = clock.now();
      const stored: Stored = { userId: principal.userId, organizationId: principal.organizationId, idToken, createdAt: now, seenAt: now };
      await ephemeral.set(storeKey(id), JSON.stringify(stored), ttlOf(stored, now));
      ctx.cookies.set(cookieName, id, cookieOptions);
    },
    /** The browser's live session, if any. */
    current(ctx: Context): Promise<ConsoleSession | undefined> {
      const id = ctx.cookies.get(cookieName);
      return id ? read(id) : Promise.resolve(undefined);
    },
    async end(ctx: Context, session: ConsoleSession | undefined): Promise<void> {
      if (session) await ephemeral.del(storeKey(session.id));
      ctx.cookies.set(cookieName, '', { ...cookieOptions, maxAge: 0 });
    },
    /** The sign-out form's token: the same value as the API's header. */
    verifyCsrf(session: ConsoleSession, sent: unknown): boolean {
      return typeof sent === 'string' && safeEqual(sent, session.csrf);
    },
  };
}

export type ConsoleSessions = ReturnType<typeof createConsoleSessions>;

/**
 * The console's side of the admin API's authentication: a live console session whose request
 * carries its CSRF token in `X-CSRF-Token`. The header is what a cross-site page cannot add (the
 * API grants no CORS), so a cookie alone is refused, whatever the method.
 */
export function consoleApiAuth(sessions: ConsoleSessions): ConsoleAuth {
  return {
    async authenticate(ctx) {
      const session = await sessions.current(ctx);
      if (!session) return undefined;
      if (!sessions.verifyCsrf(session, ctx.get('x-csrf-token') || undefined))
        throw new IdpError('invalid_csrf_token', 'a console request must carry its X-CSRF-Token header');
      return { userId: session.userId, organizationId: session.organizationId };
    },
  };
}
