import Bowser from 'bowser';
import type { GeoLocator } from '../risk/geoip.js';
import { describeUserAgent } from '../risk/user-agent.js';

const UNKNOWN = 'Unknown';
const countryNames = new Intl.DisplayNames(['en'], { type: 'region' });

/** "Chrome on macOS" from the sign-in's User-Agent; what cannot be read is "Unknown". */
export function deviceOf(userAgent: string): string {
  // The same checks as the risk engine's: nothing garbled or oversized reaches the parser.
  if (describeUserAgent(userAgent).anomaly === 'garbled' || !userAgent.trim()) return `${UNKNOWN} device`;
  const { browser, os } = Bowser.parse(userAgent);
  if (browser.name && os.name) return `${browser.name} on ${os.name}`;
  return browser.name || os.name || `${UNKNOWN} device`;
}

/** "City, Country" (or the country) from the offline GeoIP database; "Unknown" where it places nothing (private, loopback, not an address). */
export function locationOf(geo: GeoLocator, ip: string): string {
  let place;
  try {
    place = geo.locate(ip);
  } catch {
    return UNKNOWN;
  }
  if (!place) return UNKNOWN;
  const country = countryNames.of(place.country) ?? place.country;
  return place.city ? `${place.city}, ${country}` : country;
}

/** A relying party of a session: an OIDC client (with its name, when it has one) or a SAML service provider. */
export type SessionClient = { type: 'oidc'; client_id: string; client_name?: string } | { type: 'saml'; entity_id: string };

/** A live session as the APIs show it: never its uid or anything of its cookie. */
export interface SessionView {
  id: string;
  device: string;
  ip: string;
  location: string;
  created_at: string;
  last_active: string;
  current: boolean;
  acr: string | null;
  amr: string[];
  clients: SessionClient[];
}
