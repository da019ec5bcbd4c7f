import { deviceKeyOf } from '../device-key.js';
import type { RiskSignal } from '../types.js';
import { describeUserAgent } from '../user-agent.js';
import { NO_BASELINE, notApplicable } from './outcome.js';

/**
 * A device the user has not signed in from: recognised by its device cookie (a trusted device, or
 * one seen in a recorded login), or, without a cookie, by its browser family.
 */
export const newDevice: RiskSignal = {
  name: 'new_device',
  weight: 0.5,
  async evaluate({ context, facts }) {
    const history = await facts.history();
    if (!history) return notApplicable('no_user');
    if (context.deviceToken) {
      if (await facts.trustedDevice()) return { score: 0, evidence: { device: 'trusted' } };
      const key = deviceKeyOf(context.deviceToken);
      if (history.some((h) => h.deviceKey === key)) return { score: 0, evidence: { device: 'seen', recognised_by: 'cookie' } };
    } else {
      const { family } = describeUserAgent(context.userAgent);
      if (family && history.some((h) => h.uaFamily === family)) return { score: 0, evidence: { device: 'seen', recognised_by: 'user_agent', family } };
    }
    const recognisedBy = context.deviceToken ? 'cookie' : 'user_agent';
    if (!history.length) return { score: NO_BASELINE, evidence: { device: 'new', recognised_by: recognisedBy, baseline: 'none' } };
    return { score: 1, evidence: { device: 'new', recognised_by: recognisedBy } };
  },
};
