import type { AuditService } from '../audit/audit.service.js';
import type { SessionTerminator } from '../authn/factor-outcomes.js';
import { hashPassword } from '../authn/password.js';
import type { Clock } from '../lib/clock.js';
import { badRequest, notFound, conflict } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import type { User, UserUpdate } from '../store/database.js';
import { UUID, loginKey, normalizeUsername, type AccountRepository, type NameMatch, type UserFilter } from '../store/repositories/account.repository.js';
import type { OrganizationRepository } from '../store/repositories/organization.repository.js';
import { reaches, type Caller, type OrgScope } from './changed-by.js';
import type { CreateUserInput, ListUsersQuery, UpdateUserInput } from './user.schema.js';

export interface UserServiceDeps {
  accounts: AccountRepository;
  organizations: OrganizationRepository;
  /** Ends a user's sessions (grants, refresh tokens, back-channel logout) when they are disabled or deleted. */
  sessions: SessionTerminator;
  audit: AuditService;
  metrics: Metrics;
  clock: Clock;
  /**
   * What a new user's verified phone and address become (the destinations of one-time codes):
   * `check` refuses an unusable one before the user is created, `adopt` records them after.
   */
  /** The methods a user's active credentials give (a phone gives SMS and voice); by default, the credential kinds. */
  methodsOf?: (counts: Readonly<Record<string, number>>) => string[];
  verifiedContacts?: {
    check(given: { phone?: string; email?: string }): void;
    adopt(user: User, given: { phone?: string; email?: string }, by: Caller): Promise<void>;
  };
}

// Opaque to clients; inside, the id the next page starts after.
const CURSOR_PREFIX = 'users:';
const encodeCursor = (id: string) => Buffer.from(CURSOR_PREFIX + id).toString('base64url');
function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';
  const id = text.startsWith(CURSOR_PREFIX) ? text.slice(CURSOR_PREFIX.length) : '';
  if (!UUID.test(id)) throw badRequest('cursor: not a cursor this API gave out');
  return id.toLowerCase();
}

/** `alice` is that name, `ali*` any name that begins so. */
const nameMatch = (text: string | undefined): NameMatch | undefined =>
  text === undefined ? undefined : text.endsWith('*') ? { value: text.slice(0, -1), prefix: true } : { value: text, prefix: false };

/** The MFA methods a user can sign in with, from their active credentials of each kind. */
export const mfaMethodsOf = (counts: Readonly<Record<string, number>>): string[] =>
  Object.keys(counts)
    .filter((kind) => (counts[kind] ?? 0) > 0)
    .sort();

/** A user as the admin API shows it: never a password hash, a factor's secret or a lockout internal beyond the counters. */
function userView(user: User, organization: string | null, now: number) {
  return {
    id: user.id,
    external_id: user.externalId,
    username: user.username,
    name: user.name,
    locale: user.locale,
    email: user.email,
    phone: user.phone,
    email_verified: user.emailVerified,
    phone_verified: user.phoneVerified,
    status: user.status,
    roles: user.roles,
    organization,
    is_locked: user.status === 'locked' || (user.lockedUntil !== null && user.lockedUntil.getTime() > now),
    failed_attempts: user.failedAttempts,
    temporary_credential_expires_at: user.passwordTemporaryUntil?.toISOString() ?? null,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
    last_login_at: user.lastLoginAt?.toISOString() ?? null,
  };
}

const UNIQUE_VIOLATION = '23505';

/** The database's uniqueness rules on users, as the field each one is about. */
const CONFLICTS: Record<string, string> = {
  users_external_id_key: 'user.external_id: a user with this external_id already exists',
  users_username_lower: 'user.username: already taken',
  users_username_not_email: "user.username: is another user's e-mail address",
  users_email_not_username: "user.email: is another user's username",
};

/**
 * Sign-in accepts a username or an e-mail address, so a username with an `@` could pass for an
 * address: it is allowed only as the user's own. Collisions with other users are refused by the
 * database (see the users_login_names trigger), which also settles concurrent creates.
 */
function assertUsernameIsNoAddress(username: string | null, email: string | null): void {
  if (username?.includes('@') && loginKey(username) !== (email && loginKey(email))) {
    throw badRequest("user.username: may contain @ only when it is the user's own e-mail address");
  }
}

/** Extra profile fields contributed by other capabilities (MFA factors add has_otp, ...). */
export type ProfileExtension = (user: User) => Promise<Record<string, unknown>>;

/** A unique constraint the write ran into, as the 409 that names the field. */
async function saving<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    if (e.code === UNIQUE_VIOLATION) throw conflict(CONFLICTS[e.constraint ?? ''] ?? 'a user with these details already exists');
    throw err;
  }
}

/** The user `id` names, when the caller may see it: another organisation's user is as absent as a missing one. */
export async function findReachable(accounts: Pick<AccountRepository, 'findById'>, id: string, scope: OrgScope): Promise<User> {
  // An id that is no uuid finds nothing, without a query.
  const user = await accounts.findById(id);
  if (!user || !reaches(scope, user.organizationId)) throw notFound('no such user');
  return user;
}

export function createUserService(deps: UserServiceDeps, extensions: ProfileExtension[] = []) {
  const { accounts, organizations } = deps;
  const find = (id: string, scope: OrgScope) => findReachable(accounts, id, scope);

  /** The full view: the base fields, refined by the capabilities' extensions (MFA state, both locks). */
  async function describe(user: User) {
    const org = await organizations.findById(user.organizationId);
    const extra = Object.assign({}, ...(await Promise.all(extensions.map((x) => x(user))))) as Record<string, unknown>;
    // Last, so that capabilities can refine the base fields (is_locked also covers the MFA lock).
    return { ...userView(user, org?.slug ?? null, deps.clock.now()), has_otp: false, has_passkeys: false, ...extra };
  }

  return {
    /** Into the named organisation or, by default, the caller's own (`default` for a key that reaches them all). */
    async create(input: CreateUserInput, by: Caller) {
      const org =
        input.organization || by.organizationId === null
          ? await organizations.findBySlug(input.organization ?? 'default')
          : await organizations.findById(by.organizationId);
      if (!org || !reaches(by, org.id)) throw badRequest(`user.organization: unknown organization ${input.organization}`);
      if (await accounts.findByExternalId(input.external_id)) throw conflict(CONFLICTS.users_external_id_key!);
      const username = input.username ? normalizeUsername(input.username) : null;
      const email = input.email ?? null;
      assertUsernameIsNoAddress(username, email);
      const vouched = { ...(input.phone_verified && input.phone ? { phone: input.phone } : {}), ...(input.email_verified && email ? { email } : {}) };
      deps.verifiedContacts?.check(vouched);
      const passwordHash = input.password ? await hashPassword(input.password) : null;
      const user = await saving(() =>
        accounts.insert({
          externalId: input.external_id,
          username,
          email,
          phone: input.phone ?? null,
          emailVerified: input.email_verified ?? false,
          phoneVerified: input.phone_verified ?? false,
          passwordHash,
          roles: input.roles ?? [],
          name: input.name ?? null,
          locale: input.locale ?? null,
          organizationId: org.id,
          lockedUntil: null,
          lastLoginAt: null,
        }),
      );
      await deps.audit.record({ type: 'admin.user.created', outcome: 'success', ...by, subject: user.id, organizationId: org.id });
      await deps.verifiedContacts?.adopt(user, vouched, by);
      deps.metrics.userAdmin.inc({ action: 'created' });
      return user;
    },

    async profile(externalId: string, scope: OrgScope) {
      const user = await accounts.findByExternalId(externalId);
      if (!user || !reaches(scope, user.organizationId)) throw notFound('no such user');
      return describe(user);
    },

    /** `GET /users/{id}`: another organisation's user, a missing one and an id that is no id are one 404. */
    async get(id: string, scope: OrgScope) {
      return describe(await find(id, scope));
    },

    /** A page of users, in id order; an organisation-bound key lists its organisation's only. */
    async list(q: ListUsersQuery, scope: OrgScope) {
      const after = decodeCursor(q.cursor);
      let organizationId = scope.organizationId ?? undefined;
      if (q.organization) {
        const org = await organizations.findBySlug(q.organization);
        // An organisation the key cannot reach lists as empty as an unknown one.
        if (!org || !reaches(scope, org.id)) return { users: [], next_cursor: null };
        organizationId = org.id;
      }
      const filter: UserFilter = {
        organizationId,
        status: q.status,
        username: nameMatch(q.username),
        email: nameMatch(q.email),
        externalId: nameMatch(q.external_id),
        any: nameMatch(q.q),
      };
      const rows = await accounts.page(filter, after, q.limit + 1);
      const page = rows.slice(0, q.limit);
      const slugs = new Map<string, string | null>();
      for (const orgId of new Set(page.map((u) => u.organizationId))) slugs.set(orgId, (await organizations.findById(orgId))?.slug ?? null);
      const now = deps.clock.now();
      return {
        users: page.map((u) => ({
          ...userView(u, slugs.get(u.organizationId) ?? null, now),
          mfa_methods: (deps.methodsOf ?? mfaMethodsOf)(u.activeCredentials),
        })),
        next_cursor: rows.length > q.limit ? encodeCursor(page[page.length - 1]!.id) : null,
      };
    },

    /**
     * Profile fields, and `status`: disabling ends every session of the user with their grants and
     * refresh tokens (relying parties told over the back channel); the token endpoints refuse a
     * disabled account from then on (find-account).
     */
    async update(id: string, input: UpdateUserInput, by: Caller) {
      const user = await find(id, by);
      const patch: UserUpdate = {};
      if (input.external_id !== undefined) patch.externalId = input.external_id;
      if (input.username !== undefined) patch.username = normalizeUsername(input.username);
      if (input.email !== undefined) patch.email = input.email;
      if (input.phone !== undefined) patch.phone = input.phone;
      if (input.roles !== undefined) patch.roles = input.roles;
      if (input.status !== undefined) patch.status = input.status;
      if (input.name !== undefined) patch.name = input.name;
      if (input.locale !== undefined) patch.locale = input.locale;
      // A new address or number is unverified unless the caller says otherwise.
      patch.emailVerified = input.email_verified ?? (input.email !== undefined && input.email !== user.email ? false : undefined);
      patch.phoneVerified = input.phone_verified ?? (input.phone !== undefined && input.phone !== user.phone ? false : undefined);
      assertUsernameIsNoAddress(patch.username ?? user.username, patch.email === undefined ? user.email : patch.email);
      const updated = await saving(() => accounts.update(user.id, patch));
      if (!updated) throw notFound('no such user');
      const who = { ...by, subject: user.id, organizationId: user.organizationId };
      await deps.audit.record({ type: 'admin.user.updated', outcome: 'success', ...who, data: { fields: Object.keys(input).sort() } });
      deps.metrics.userAdmin.inc({ action: 'updated' });
      if (updated.status !== user.status && updated.status === 'disabled') {
        const ended = await deps.sessions.endOtherSessions(user.id);
        await deps.audit.record({ type: 'admin.user.disabled', outcome: 'success', ...who, data: { previous_status: user.status, sessions_ended: ended } });
        deps.metrics.userAdmin.inc({ action: 'disabled' });
      } else if (updated.status !== user.status) {
        await deps.audit.record({ type: 'admin.user.enabled', outcome: 'success', ...who, data: { previous_status: user.status } });
        deps.metrics.userAdmin.inc({ action: 'enabled' });
      }
      return describe(updated);
    },

    /**
     * Removes the user with their factors, trusted devices, risk history and sessions (ended first,
     * with back-channel logout, so no relying party keeps a session of an account that is gone).
     * The audit trail keeps every event about them; this one records who they were.
     */
    async remove(id: string, by: Caller): Promise<void> {
      const user = await find(id, by);
      // Disabled first, so that no login can finish (and no token be issued) between the end of its sessions and its removal.
      await accounts.update(user.id, { status: 'disabled' });
      const ended = await deps.sessions.endOtherSessions(user.id);
      if (!(await accounts.remove(user.id))) throw notFound('no such user');
      await deps.audit.record({
        type: 'admin.user.deleted',
        outcome: 'success',
        ...by,
        subject: user.id,
        organizationId: user.organizationId,
        data: { external_id: user.externalId, sessions_ended: ended },
      });
      deps.metrics.userAdmin.inc({ action: 'deleted' });
    },
  };
}

export type UserService = ReturnType<typeof createUserService>;
