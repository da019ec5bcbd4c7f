/** SAML 2.0 Authentication Context classes (saml-authn-context-2.0-os §3.4) and the REFEDS MFA Profile. */
export const CONTEXT_CLASSES = {
  unspecified: 'urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified',
  password: 'urn:oasis:names:tc:SAML:2.0:ac:classes:Password',
  passwordProtectedTransport: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
  refedsMfa: 'https://refeds.org/profile/mfa',
} as const;

/** How strong each class we can assert is: a password (over TLS, always here) is 1, two factors 2. */
const STRENGTH: ReadonlyMap<string, number> = new Map([
  [CONTEXT_CLASSES.unspecified, 0],
  [CONTEXT_CLASSES.password, 1],
  [CONTEXT_CLASSES.passwordProtectedTransport, 1],
  [CONTEXT_CLASSES.refedsMfa, 2],
]);

/** The class a login of this assurance level earned: REFEDS MFA for two factors, password over TLS otherwise. */
export const earnedClass = (acr: string | undefined): string =>
  acr === 'aal2' || acr === 'aal3' ? CONTEXT_CLASSES.refedsMfa : CONTEXT_CLASSES.passwordProtectedTransport;
const strengthOf = (acr: string | undefined) => STRENGTH.get(earnedClass(acr))!;

export interface RequestedContexts {
  classRefs: string[];
  comparison: 'exact' | 'minimum' | 'maximum' | 'better';
}

export interface ContextRequirement {
  /** The assurance the login must reach for the class asked (a stronger one forces MFA or step-up). */
  requiredAal?: 2;
  /** The class to assert for a login of this level: one the request accepts, and true of the login. */
  classFor(acr: string | undefined): string;
}

/**
 * What a RequestedAuthnContext (SAML 2.0 Core §3.3.2.2.1) asks of the login, or undefined when no
 * login here can satisfy it (the SP gets a NoAuthnContext status). Classes we do not know are
 * never assumed met.
 */
export function contextRequirement(requested: RequestedContexts | undefined): ContextRequirement | undefined {
  if (!requested) return { classFor: earnedClass };
  const known = requested.classRefs.filter((c) => STRENGTH.has(c));
  const strengths = known.map((c) => STRENGTH.get(c)!);
  if (!known.length) return undefined;
  switch (requested.comparison) {
    case 'exact': {
      // The asserted class must be one of those listed: the strongest listed that the login reached.
      const lowest = Math.min(...strengths);
      const classFor = (acr: string | undefined) => {
        const reached = strengthOf(acr);
        return known.filter((c) => STRENGTH.get(c)! <= reached).sort((a, b) => STRENGTH.get(b)! - STRENGTH.get(a)!)[0]!;
      };
      return lowest >= 2 ? { requiredAal: 2, classFor } : { classFor };
    }
    case 'minimum':
      return Math.min(...strengths) >= 2 ? { requiredAal: 2, classFor: earnedClass } : { classFor: earnedClass };
    case 'better': {
      // Stronger than every class listed.
      const needed = Math.max(...strengths) + 1;
      if (needed > 2) return undefined;
      return needed === 2 ? { requiredAal: 2, classFor: earnedClass } : { classFor: earnedClass };
    }
    case 'maximum': {
      // No stronger than the strongest listed: a password login is also what an MFA login began with.
      const ceiling = Math.max(...strengths);
      return { classFor: (acr) => (strengthOf(acr) <= ceiling ? earnedClass(acr) : known.find((c) => STRENGTH.get(c) === ceiling)!) };
    }
  }
}
