import { distanceKm, loadGeoIp } from '../geoip.js';
import type { RiskSignal } from '../types.js';
import { notApplicable } from './outcome.js';

/** Faster than an airliner: no one flew from the last login's place to this one. */
export const MAX_KM_PER_HOUR = 900;
/** City-level geolocation is often this far off; distances below it prove nothing. */
const LOCATION_SLACK_KM = 100;
/** Logins seconds apart are timed as a minute apart, so that speed stays finite. */
const MIN_HOURS = 1 / 60;

/** The distance from the last located login to this one, over the time between them, above airliner speed. */
export const impossibleTravel: RiskSignal = {
  name: 'impossible_travel',
  weight: 0.8,
  async evaluate({ context, facts }) {
    const here = (await loadGeoIp()).locate(context.ip);
    const history = await facts.history();
    if (!history) return notApplicable('no_user');
    if (!here) return { score: 0, evidence: { located: false } };
    const last = history.find((h) => h.latitude !== null && h.longitude !== null);
    if (!last) return { score: 0, evidence: { previous_location: false } };
    const km = Math.max(0, distanceKm({ latitude: last.latitude!, longitude: last.longitude! }, here) - LOCATION_SLACK_KM);
    const hours = Math.max(MIN_HOURS, (context.at - last.at.getTime()) / 3_600_000);
    const speed = km / hours;
    return {
      score: speed > MAX_KM_PER_HOUR ? 1 : 0,
      evidence: { from: last.country, to: here.country, km: Math.round(km), minutes: Math.round(hours * 60), km_per_hour: Math.round(speed) },
    };
  },
};
