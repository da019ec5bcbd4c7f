import { generate } from 'otplib';
import type { Container } from '../../src/container.js';

/** A TOTP code computed independently of the IdP, for `offsetSteps` 30-second steps from now. */
export const totpCode = (secret: string, offsetSteps = 0) =>
  generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });

/**
 * Enrols TOTP for an account through the real enrolment path, confirming with the previous
 * step's code so that the current step stays free for the login under test.
 */
export async function enrolTotp(container: Container, accountId: string): Promise<string> {
  const { secret } = await container.factors.totp.begin(accountId, 'user@example.test', 'Test IdP');
  await container.factors.totp.confirm(accountId, await totpCode(secret, -1));
  return secret;
}
