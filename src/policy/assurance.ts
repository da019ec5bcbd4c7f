import type { Aal, AuthEvent, FactorDescriptor } from './types.js';

/**
 * RFC 8176 values of the factors proven: `pwd` for the password, each MFA method's own from its
 * descriptor (a method with no plug-in adds none), and `mfa` once they make AAL2.
 */
export function amrOf(events: readonly AuthEvent[], methods: readonly FactorDescriptor[]): string[] {
  const byMethod = new Map(methods.map((d) => [d.method, d.amr]));
  const values = [...new Set(events.flatMap((e) => (e.factor === 'password' ? ['pwd'] : (e.amr ?? byMethod.get(e.factor) ?? []))))];
  if (aalOf(events) >= 2) values.push('mfa');
  return values;
}

/**
 * Two distinct factors, one of them a second factor, make AAL2; with a phishing-resistant one, AAL3.
 * A multi-factor authenticator (a user-verified passkey) makes them on its own. Each second factor
 * counts up to the AAL it can help reach (its descriptor's or its credential's `aal`), so methods
 * NIST SP 800-63B rev 4 and OWASP ASVS 5 (6.3.6) do not accept for AAL2 never make it.
 */
export function aalOf(events: readonly AuthEvent[]): Aal {
  const distinct = new Set(events.map((e) => e.factor)).size >= 2;
  let aal: Aal = 1;
  for (const e of events) {
    if (e.secondFactor && (distinct || e.multiFactor)) aal = Math.max(aal, Math.min(e.aal ?? 3, e.phishingResistant ? 3 : 2)) as Aal;
  }
  return aal;
}

export const acrOf = (aal: Aal): string => `aal${aal}`;

export function aalFromAcr(acr: string | undefined): Aal | undefined {
  const m = /^aal([123])$/.exec(acr ?? '');
  return m ? (Number(m[1]) as Aal) : undefined;
}

/** acr_values lists what the RP accepts; the weakest listed level is what it asks for at least. */
export function requestedAalOf(acrValues: unknown): Aal | undefined {
  const levels = (typeof acrValues === 'string' ? acrValues : '')
    .split(' ')
    .map(aalFromAcr)
    .filter((a): a is Aal => a !== undefined);
  return levels.length ? (Math.min(...levels) as Aal) : undefined;
}
