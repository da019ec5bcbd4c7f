import { canonicalIp, networkOf } from '../ip.js';
import type { RiskSignal } from '../types.js';
import { NO_BASELINE, notApplicable } from './outcome.js';

/** A new address counts for little inside a network the user signs in from; a new network counts fully. */
const NEW_ADDRESS_KNOWN_NETWORK = 0.3;

/** An address, and its /24 (IPv4) or /48 (IPv6) network, the user has not signed in from. */
export const newNetwork: RiskSignal = {
  name: 'new_network',
  weight: 0.4,
  async evaluate({ context, facts }) {
    const ip = canonicalIp(context.ip);
    const network = networkOf(context.ip);
    const history = await facts.history();
    if (!history) return notApplicable('no_user');
    if (history.some((h) => h.ip === ip)) return { score: 0, evidence: { ip: 'seen', network } };
    if (history.some((h) => h.network === network)) return { score: NEW_ADDRESS_KNOWN_NETWORK, evidence: { ip: 'new', network, network_seen: true } };
    return { score: history.length ? 1 : NO_BASELINE, evidence: { ip: 'new', network, network_seen: false, ...(history.length ? {} : { baseline: 'none' }) } };
  },
};
