/** RequestedAuthnContext (SAML 2.0 Core §3.3.2.2.1) turned into what the login must reach and the class it asserts. */
import { CONTEXT_CLASSES as C, contextRequirement } from '../../src/saml/authn-context.js';

const KERBEROS = 'urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos';
const req = (comparison: 'exact' | 'minimum' | 'maximum' | 'better', ...classRefs: string[]) => contextRequirement({ classRefs, comparison });

test('nothing asked: no requirement, the class the login earned', () => {
  const r = contextRequirement(undefined)!;
  expect(r.requiredAal).toBeUndefined();
  expect([r.classFor('aal1'), r.classFor('aal2'), r.classFor('aal3')]).toEqual([C.passwordProtectedTransport, C.refedsMfa, C.refedsMfa]);
});

test('exact: only a listed class is asserted; REFEDS MFA alone forces MFA', () => {
  const mfa = req('exact', C.refedsMfa)!;
  expect(mfa.requiredAal).toBe(2);
  expect(mfa.classFor('aal2')).toBe(C.refedsMfa);
  const ppt = req('exact', C.passwordProtectedTransport)!;
  expect(ppt.requiredAal).toBeUndefined();
  // An MFA login is also a password login over TLS: the listed class is asserted, never an unlisted one.
  expect(ppt.classFor('aal2')).toBe(C.passwordProtectedTransport);
  const both = req('exact', C.passwordProtectedTransport, C.refedsMfa)!;
  expect(both.requiredAal).toBeUndefined();
  expect([both.classFor('aal1'), both.classFor('aal2')]).toEqual([C.passwordProtectedTransport, C.refedsMfa]);
  expect(req('exact', C.password)!.classFor('aal1')).toBe(C.password);
});

test('minimum: the weakest listed class sets the floor', () => {
  expect(req('minimum', C.refedsMfa)!.requiredAal).toBe(2);
  expect(req('minimum', C.passwordProtectedTransport, C.refedsMfa)!.requiredAal).toBeUndefined();
  expect(req('minimum', C.unspecified)!.classFor('aal2')).toBe(C.refedsMfa);
});

test('better: stronger than every listed class; nothing is stronger than REFEDS MFA here', () => {
  expect(req('better', C.passwordProtectedTransport)!.requiredAal).toBe(2);
  expect(req('better', C.unspecified)!.requiredAal).toBeUndefined();
  expect(req('better', C.refedsMfa)).toBeUndefined();
});

test('maximum: an MFA login is asserted as the strongest class allowed', () => {
  const r = req('maximum', C.passwordProtectedTransport)!;
  expect(r.requiredAal).toBeUndefined();
  expect([r.classFor('aal1'), r.classFor('aal2')]).toEqual([C.passwordProtectedTransport, C.passwordProtectedTransport]);
  expect(req('maximum', C.refedsMfa)!.classFor('aal1')).toBe(C.passwordProtectedTransport);
});

test('classes we do not know are never assumed met', () => {
  for (const comparison of ['exact', 'minimum', 'maximum', 'better'] as const) expect(req(comparison, KERBEROS)).toBeUndefined();
  expect(req('exact', KERBEROS, C.refedsMfa)!.requiredAal).toBe(2);
  expect(req('exact')).toBeUndefined();
});
