import { deviceKeyOf } from '../device-key.js';
import type { RiskSignal } from '../types.js';
import { describeUserAgent } from '../user-agent.js';

const SCORES = { missing: 1, garbled: 1, automation: 1, unrecognised: 0.5 } as const;
/** The same device cookie presented by another browser family: a copied cookie, most likely. */
const FAMILY_CHANGE = 0.8;

/** A missing or garbled user agent, a headless browser or automation library, or a device whose browser changed. */
export const userAgentAnomaly: RiskSignal = {
  name: 'user_agent',
  weight: 0.7,
  async evaluate({ context, facts }) {
    const ua = describeUserAgent(context.userAgent);
    const own = ua.anomaly
      ? { score: SCORES[ua.anomaly], evidence: { anomaly: ua.anomaly, family: ua.family, ...(ua.marker ? { marker: ua.marker } : {}) } }
      : undefined;
    if (own?.score === 1 || !context.deviceToken) return own ?? { score: 0, evidence: { family: ua.family } };
    const key = deviceKeyOf(context.deviceToken);
    const previous = (await facts.history())?.find((h) => h.deviceKey === key)?.uaFamily;
    if (previous && ua.family && previous !== ua.family && FAMILY_CHANGE > (own?.score ?? 0))
      return { score: FAMILY_CHANGE, evidence: { anomaly: 'family_changed', family: ua.family, previous_family: previous } };
    return own ?? { score: 0, evidence: { family: ua.family } };
  },
};
