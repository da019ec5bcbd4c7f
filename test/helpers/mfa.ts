import { generate } from 'otplib';
import type { Container } from '../../src/container.js';

/** A TOTP code computed independently of the IdP, for `offsetSteps` 30-second steps from now. */
export const totpCode = (secret: string, offsetSteps = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });

/**
 * Enrols TOTP for an account through the real enrolment path, confirming with the previous
 * step's code so that the current step stays free for the login under test.
 */
export async function enrolTotp(container: Container, accountId: string): Promise<string> {
  const enrolment = container.factors.get('totp')!.enrolment!;
  const secret = String((await enrolment.begin(accountId, 'user@example.test', 'Test IdP')).shown.secret);
  await enrolment.confirm(accountId, await totpCode(secret, -1));
  return secret;
}

/** A new set of backup codes for an account, issued by the method's own set-up. */
export async function issueBackupCodes(container: Container, accountId: string): Promise<string[]> {
  const { shown } = await container.factors.get('backup_code')!.selfService!.issue!(accountId);
  return shown.backup_codes as string[];
}

/** How many of the account's backup codes are still unused. */
export const remainingBackupCodes = async (container: Container, accountId: string) =>
  (await container.credentials.countActiveByKind(accountId)).backup_code ?? 0;
