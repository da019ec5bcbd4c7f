import type { AuditService } from '../audit/audit.service.js';
import { hashPassword } from '../authn/password.js';
import type { Clock } from '../lib/clock.js';
import { badRequest, conflict, notFound } from '../lib/errors.js';
import type { User } from '../store/database.js';
import { normalizeUsername, type AccountRepository } from '../store/repositories/account.repository.js';
import type { OrganizationRepository } from '../store/repositories/organization.repository.js';
import type { CreateUserInput } from './user.schema.js';

export interface UserServiceDeps {
  accounts: AccountRepository;
  organizations: OrganizationRepository;
  audit: AuditService;
  clock: Clock;
}

const UNIQUE_VIOLATION = '23505';

/** Extra profile fields contributed by other capabilities (MFA factors add has_otp, ...). */
export type ProfileExtension = (user: User) => Promise<Record<string, unknown>>;

export function createUserService(deps: UserServiceDeps, extensions: ProfileExtension[] = []) {
  const { accounts, organizations } = deps;
  return {
    async create(input: CreateUserInput, actor: string) {
      const org = await organizations.findBySlug(input.organization ?? 'default');
      if (!org) throw badRequest(`user.organization: unknown organization ${input.organization}`);
      if (await accounts.findByExternalId(input.external_id)) throw conflict('a user with this external_id already exists');
      try {
        const user = await accounts.insert({
          externalId: input.external_id,
          username: input.username ? normalizeUsername(input.username) : null,
          email: input.email ?? null,
          phone: input.phone ?? null,
          emailVerified: input.email_verified ?? false,
          phoneVerified: input.phone_verified ?? false,
          passwordHash: input.password ? await hashPassword(input.password) : null,
          roles: input.roles ?? [],
          organizationId: org.id,
          lockedUntil: null,
          lastLoginAt: null,
        });
        await deps.audit.record({ type: 'admin.user.created', outcome: 'success', actor, subject: user.id, organizationId: org.id });
        return user;
      } catch (err) {
        if ((err as { code?: string }).code === UNIQUE_VIOLATION) throw conflict('a user with this external_id or username already exists');
        throw err;
      }
    },

    async profile(externalId: string) {
      const user = await accounts.findByExternalId(externalId);
      if (!user) throw notFound('no such user');
      const org = await organizations.findById(user.organizationId);
      const locked = user.status === 'locked' || (user.lockedUntil !== null && user.lockedUntil.getTime() > deps.clock.now());
      const extra = Object.assign({}, ...(await Promise.all(extensions.map((x) => x(user)))));
      return {
        id: user.id, external_id: user.externalId, username: user.username, email: user.email, phone: user.phone,
        email_verified: user.emailVerified, phone_verified: user.phoneVerified, status: user.status, roles: user.roles,
        organization: org?.slug ?? null, has_otp: false, has_passkeys: false,
        is_locked: locked, failed_attempts: user.failedAttempts,
        created_at: user.createdAt.toISOString(), last_login_at: user.lastLoginAt?.toISOString() ?? null,
        // Last, so that capabilities can refine the base fields (is_locked also covers the MFA lock).
        ...extra,
      };
    },
  };
}

export type UserService = ReturnType<typeof createUserService>;
