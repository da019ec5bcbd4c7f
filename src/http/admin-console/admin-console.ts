import type { Clock } from '../../lib/clock.js';
import { hmac, type SecretBox } from '../../lib/crypto.js';
import type { EphemeralStore } from '../../store/ephemeral-store.js';
import type { AccountRepository } from '../../store/repositories/account.repository.js';
import type { ClientRepository } from '../../store/repositories/client.repository.js';
import type { OrganizationRepository } from '../../store/repositories/organization.repository.js';
import type { ConsolePrincipal } from '../middleware/admin-auth.js';
import { ensureConsoleClient } from './console-client.js';
import { createConsoleLogin } from './console-login.js';
import { adminScopeOf, consoleApiAuth, createConsoleSessions } from './console-session.js';

export interface AdminConsoleDeps {
  issuer: string;
  encryptionKey: Buffer;
  box: SecretBox;
  clock: Clock;
  ephemeral: EphemeralStore;
  accounts: Pick<AccountRepository, 'findById'>;
  organizations: Pick<OrganizationRepository, 'findById' | 'ensure'>;
  clients: ClientRepository;
}

/** The admin console: its client at the IdP, its sign-in, its sessions and their part in the API's authentication. */
export function createAdminConsole(deps: AdminConsoleDeps) {
  /**
   * Registered by the server that serves the console when it starts, and checked again at each
   * sign-in (one read; a write only when the client is missing or was changed), so a deleted or
   * edited registration comes back without a restart. Not when the container is built: the CLI
   * builds one too, with whatever issuer its own environment names, and must not re-point the console.
   */
  const register = () => ensureConsoleClient({ clients: deps.clients, organizations: deps.organizations, issuer: deps.issuer });

  /** The user and their organisation as the database has them now. */
  async function lookUp(userId: string) {
    const user = await deps.accounts.findById(userId);
    const organization = user ? await deps.organizations.findById(user.organizationId) : undefined;
    return user && organization ? { user, organization } : undefined;
  }

  async function principalOf(userId: string): Promise<ConsolePrincipal | undefined> {
    const found = await lookUp(userId);
    const organizationId = found && adminScopeOf(found.user, found.organization.slug);
    return organizationId === undefined ? undefined : { userId, organizationId };
  }

  const sessions = createConsoleSessions({
    ephemeral: deps.ephemeral,
    key: hmac(deps.encryptionKey, 'admin-console-v1'),
    clock: deps.clock,
    secure: deps.issuer.startsWith('https://'),
    stillAdmin: async (userId, organizationId) => (await principalOf(userId))?.organizationId === organizationId,
  });

  return {
    sessions,
    register,
    login: createConsoleLogin({ issuer: deps.issuer, box: deps.box, now: () => deps.clock.now() }),
    apiAuth: consoleApiAuth(sessions),
    principalOf,
    /** What the console shows of who is signed in. */
    async describe(p: ConsolePrincipal) {
      const found = await lookUp(p.userId);
      return {
        username: found?.user.username ?? found?.user.email ?? p.userId,
        organization: p.organizationId === null || !found ? null : { slug: found.organization.slug, name: found.organization.name },
      };
    },
    secureCookies: deps.issuer.startsWith('https://'),
  };
}

export type AdminConsole = ReturnType<typeof createAdminConsole>;
