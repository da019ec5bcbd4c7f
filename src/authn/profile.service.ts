import type { AuditService } from '../audit/audit.service.js';
import { LOCALES } from '../i18n/i18n.js';
import { z } from '../lib/zod.js';
import type { User } from '../store/database.js';
import type { AccountRepository } from '../store/repositories/account.repository.js';
import type { ChangeContext } from './self-service.service.js';

/** What a person may say about themselves: a name (blank clears it) and the language of their pages. */
export const profileInput = z.object({
  name: z.string().trim().max(200).optional(),
  locale: z.enum(LOCALES).nullable().optional(),
});
export type ProfileInput = z.infer<typeof profileInput>;

/** The profile as the API and the console show it; contact details come from the account, changed through their verification. */
export const profileView = (u: User) => ({
  name: u.name,
  locale: u.locale,
  username: u.username,
  email: u.email,
  email_verified: u.emailVerified,
  phone: u.phone,
  phone_verified: u.phoneVerified,
});

/** The signed-in user's own profile: a change is one update, audited with the fields it touched (never their values). */
export function createProfileService(deps: { accounts: Pick<AccountRepository, 'update'>; audit: Pick<AuditService, 'record'> }) {
  return {
    async update(user: User, input: ProfileInput, ctx: ChangeContext): Promise<User> {
      const patch = {
        ...(input.name !== undefined ? { name: input.name === '' ? null : input.name } : {}),
        ...(input.locale !== undefined ? { locale: input.locale } : {}),
      };
      if (!Object.keys(patch).length) return user;
      const updated = (await deps.accounts.update(user.id, patch)) ?? user;
      await deps.audit.record({
        type: 'user.profile.updated',
        outcome: 'success',
        actor: ctx.actor,
        subject: user.id,
        organizationId: user.organizationId,
        ip: ctx.ip,
        requestId: ctx.requestId,
        data: { via: ctx.via, fields: Object.keys(patch) },
      });
      return updated;
    },
  };
}

export type ProfileService = ReturnType<typeof createProfileService>;
