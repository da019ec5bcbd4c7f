import { networkOf } from './networks.js';
import type { RuleContext } from './rules.js';
import type { NetworkSettings } from './settings.js';

/** The facts about one login a rule and the network policy read, gathered the same way for a real login and for the simulator. */
export interface LoginFacts {
  user: { id: string; username: string | null; email: string | null; roles: readonly string[]; organizationId: string; attributes?: Record<string, unknown> };
  client: { id: string; firstParty: boolean };
  /** The client address as the trusted-proxy middleware settled it; anything that is not an IP address is in no network. */
  ip: string | undefined;
  deviceKnown: boolean;
  now: number;
  country?: string | null;
  risk?: number | null;
}

export interface LoginSignals {
  context: RuleContext;
  /** The trusted network the address is in, or null (none, or no readable address). */
  network: { name: string; skip_mfa: boolean } | null;
}

export function loginSignals(facts: LoginFacts, networks: NetworkSettings): LoginSignals {
  const found = networkOf(networks.trusted, facts.ip);
  const at = new Date(facts.now);
  const email = facts.user.email ?? '';
  return {
    network: found ? { name: found.name, skip_mfa: found.skip_mfa } : null,
    context: {
      user: {
        id: facts.user.id,
        username: facts.user.username ?? '',
        email_domain: email.includes('@') ? email.slice(email.lastIndexOf('@') + 1).toLowerCase() : '',
        roles: [...facts.user.roles],
        organization: facts.user.organizationId,
        attributes: facts.user.attributes ?? {},
      },
      client: { id: facts.client.id, first_party: facts.client.firstParty },
      ip: facts.ip ?? '',
      network: found?.name ?? null,
      country: facts.country ?? null,
      device_known: facts.deviceKnown,
      time: { hour: BigInt(at.getUTCHours()), weekday: BigInt(at.getUTCDay()) },
      risk: facts.risk ?? null,
    },
  };
}
