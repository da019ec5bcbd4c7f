import type { AuditService } from '../audit/audit.service.js';
import { hashPassword } from '../authn/password.js';
import type { Clock } from '../lib/clock.js';
import { badRequest, notFound, conflict } from '../lib/errors.js';
import type { User } from '../store/database.js';
import { loginKey, normalizeUsername, type AccountRepository } from '../store/repositories/account.repository.js';
import type { OrganizationRepository } from '../store/repositories/organization.repository.js';
import { reaches, type Caller, type OrgScope } from './changed-by.js';
import type { CreateUserInput } from './user.schema.js';

export interface UserServiceDeps {
  accounts: AccountRepository;
  organizations: OrganizationRepository;
  audit: AuditService;
  clock: Clock;
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

export function createUserService(deps: UserServiceDeps, extensions: ProfileExtension[] = []) {
  const { accounts, organizations } = deps;
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
      try {
        const user = await accounts.insert({
          externalId: input.external_id,
          username,
          email,
          phone: input.phone ?? null,
          emailVerified: input.email_verified ?? false,
          phoneVerified: input.phone_verified ?? false,
          passwordHash: input.password ? await hashPassword(input.password) : null,
          roles: input.roles ?? [],
          organizationId: org.id,
          lockedUntil: null,
          lastLoginAt: null,
        });
        await deps.audit.record({ type: 'admin.user.created', outcome: 'success', ...by, subject: user.id, organizationId: org.id });
        return user;
      } catch (err) {
        const e = err as { code?: string; constraint?: string };
        if (e.code === UNIQUE_VIOLATION) throw conflict(CONFLICTS[e.constraint ?? ''] ?? 'a user with these details already exists');
        throw err;
      }
    },

    async profile(externalId: string, scope: OrgScope) {
      const user = await accounts.findByExternalId(externalId);
      if (!user || !reaches(scope, user.organizationId)) throw notFound('no such user');
      const org = await organizations.findById(user.organizationId);
      const locked = user.status === 'locked' || (user.lockedUntil !== null && user.lockedUntil.getTime() > deps.clock.now());
      const extra = Object.assign({}, ...(await Promise.all(extensions.map((x) => x(user))))) as Record<string, unknown>;
      return {
        id: user.id,
        external_id: user.externalId,
        username: user.username,
        email: user.email,
        phone: user.phone,
        email_verified: user.emailVerified,
        phone_verified: user.phoneVerified,
        status: user.status,
        roles: user.roles,
        organization: org?.slug ?? null,
        has_otp: false,
        has_passkeys: false,
        is_locked: locked,
        failed_attempts: user.failedAttempts,
        created_at: user.createdAt.toISOString(),
        last_login_at: user.lastLoginAt?.toISOString() ?? null,
        // Last, so that capabilities can refine the base fields (is_locked also covers the MFA lock).
        ...extra,
      };
    },
  };
}

export type UserService = ReturnType<typeof createUserService>;
