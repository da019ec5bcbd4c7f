import type { Aal, AuthEvent, FactorDescriptor } from './types.js';

/**
 * RFC 8176 values of the factors proven: `pwd` for the password, each MFA method's own from its
 * descriptor (a method with no plug-in adds none), and `mfa` once they make AAL2.
 */
export function amrOf(events: readonly AuthEvent[], methods: readonly FactorDescriptor[]): string[] {
  const byMethod = new Map(methods.map((d) => [d.method, d.amr]));
  const values = [...new Set(events.flatMap((e) => (e.factor === 'password' ? ['pwd'] : byMethod.get(e.factor) ?? [])))];
  if (aalOf(events) >= 2) values.push('mfa');
  return values;
}

/** Email codes and security questions are never an AAL2 authenticator (NIST SP 800-63B rev 4; OWASP ASVS 5 6.3.6). */
const WEAK: ReadonlySet<AuthEvent['factor']> = new Set(['email', 'questions']);

/** Two distinct factors, one of them a (non-weak) second factor, make AAL2; with a phishing-resistant one, AAL3. */
export function aalOf(events: readonly AuthEvent[]): Aal {
  const kinds = new Set(events.map((e) => e.factor));
  const second = events.filter((e) => e.secondFactor && !WEAK.has(e.factor));
  if (kinds.size < 2 || second.length === 0) return 1;
  return second.some((e) => e.phishingResistant) ? 3 : 2;
}

export const acrOf = (aal: Aal): string => `aal${aal}`;

export function aalFromAcr(acr: string | undefined): Aal | undefined {
  const m = /^aal([123])$/.exec(acr ?? '');
  return m ? (Number(m[1]) as Aal) : undefined;
}

/** acr_values lists what the RP accepts; the weakest listed level is what it asks for at least. */
export function requestedAalOf(acrValues: unknown): Aal | undefined {
  const levels = (typeof acrValues === 'string' ? acrValues : '').split(' ').map(aalFromAcr).filter((a): a is Aal => a !== undefined);
  return levels.length ? (Math.min(...levels) as Aal) : undefined;
}
