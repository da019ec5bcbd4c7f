import { loadGeoIp } from '../geoip.js';
import type { RiskSignal } from '../types.js';
import { NO_BASELINE, notApplicable } from './outcome.js';

/** A country the user has not signed in from (an address the database cannot place is its own "country"). */
export const newCountry: RiskSignal = {
  name: 'new_country',
  weight: 0.5,
  async evaluate({ context, facts }) {
    const country = (await loadGeoIp()).locate(context.ip)?.country ?? null;
    const history = await facts.history();
    if (!history) return notApplicable('no_user');
    if (history.some((h) => h.country === country)) return { score: 0, evidence: { country, seen: true } };
    return { score: history.length ? 1 : NO_BASELINE, evidence: { country, seen: false, ...(history.length ? {} : { baseline: 'none' }) } };
  },
};
