import { matchingCidr } from '../ip.js';
import type { RiskSignal } from '../types.js';

/** An address in one of the operator's denied CIDRs (`risk.deny_list`): full weight, so the score is 1. */
export const denyList: RiskSignal = {
  name: 'deny_list',
  weight: 1,
  async evaluate({ context, facts }) {
    const cidr = matchingCidr(context.ip, (await facts.settings()).deny_list);
    return cidr ? { score: 1, evidence: { listed: true, cidr } } : { score: 0, evidence: { listed: false } };
  },
};
