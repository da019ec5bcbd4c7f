import { assertRegisteredMethods } from '../../src/policy/settings.service.js';
import type { MfaMethod } from '../../src/policy/types.js';

/** A server built with fewer methods (an embedder's registry) refuses a policy that needs one it lacks. */
describe('a policy naming a method with no plug-in', () => {
  const registered: MfaMethod[] = ['totp', 'backup_code'];

  test.each([
    [{ allowed_methods: ['totp', 'sms'] as MfaMethod[] }, 'mfa.allowed_methods.1: sms is not a method this server provides'],
    [{ allowed_methods: ['prompt'] as MfaMethod[] }, 'mfa.allowed_methods.0: prompt is not a method this server provides'],
    [{ policy: 'passkey' as const }, 'mfa.policy: passkey needs the passkey method, which this server does not provide'],
  ])('%j is refused, naming the field and the method', (mfa, message) => {
    expect(() => assertRegisteredMethods(mfa, registered, 'mfa')).toThrow(message);
  });

  test('methods the server has pass, as does a block that names none', () => {
    expect(() => assertRegisteredMethods({ allowed_methods: ['totp', 'backup_code'] }, registered, 'mfa')).not.toThrow();
    expect(() => assertRegisteredMethods({ policy: 'otp' }, registered, 'mfa')).not.toThrow();
    expect(() => assertRegisteredMethods(undefined, registered, 'mfa')).not.toThrow();
  });
});
