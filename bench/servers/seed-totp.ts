/**
 * Seeds users with a password and a confirmed TOTP inside the IdP server (bench/servers/idp.ts),
 * for S1-totp. Each user can log in once per 30-second step (replay protection), so S1-totp needs
 * hundreds to thousands of them; creating each through the admin API (one argon2id hash per user,
 * plus a QR code per TOTP enrolment) would take minutes. So:
 *  - the password is hashed once, by the real `hashPassword` (argon2id, OWASP parameters), and the
 *    users are inserted with the project's account repository, as the user service does (minus the
 *    audit record);
 *  - each TOTP enrolment is what TOTP's enrolment `begin` stores (a pending credential with the sealed
 *    secret) without the QR rendering (~10 ms per user), then confirmed through the real
 *    its enrolment `confirm` with the previous step's code, as test/helpers/mfa.ts `enrolTotp` does,
 *    so the current step stays free for the first login.
 */
import { generate, generateSecret } from 'otplib';
import { hashPassword } from '../../src/authn/password.js';
import type { Container } from '../../src/container.js';
import { normalizeUsername } from '../../src/store/repositories/account.repository.js';
import type { SeedTotpAck, SeedTotpRequest } from '../lib/protocol.js';

const PERIOD = 30;
const CONCURRENCY = 8;

export async function seedTotpUsers(container: Container, req: SeedTotpRequest): Promise<NonNullable<SeedTotpAck['users']>> {
  const org = await container.organizations.findBySlug('default');
  if (!org) throw new Error('no default organization');
  const passwordHash = await hashPassword(req.password);
  const totp = container.factors.get('totp')?.enrolment;
  if (!totp) throw new Error('no TOTP enrolment registered');
  const out = new Array(req.count) as NonNullable<SeedTotpAck['users']>;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < req.count; i = next++) {
      const username = `${req.usernamePrefix}${i}`;
      const user = await container.accounts.insert({
        externalId: `${req.externalIdPrefix}${i}`,
        username: normalizeUsername(username),
        email: `${username}@example.test`,
        phone: null,
        emailVerified: true,
        phoneVerified: false,
        passwordHash,
        roles: [],
        organizationId: org.id,
        lockedUntil: null,
        lastLoginAt: null,
      });
      const secret = generateSecret({ length: 20 });
      await container.credentials.insert({
        userId: user.id,
        kind: 'totp',
        name: 'Authenticator app',
        secretSealed: container.box.seal(secret),
        confirmed: false,
      });
      const previousStep = Math.floor(container.clock.now() / 1000 / PERIOD) - 1;
      await totp.confirm(user.id, await generate({ secret, epoch: previousStep * PERIOD }));
      out[i] = { username, secret };
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return out;
}
