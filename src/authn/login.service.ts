import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditService } from '../audit/audit.service.js';
import type { SettingsService } from '../policy/settings.service.js';
import type { Clock } from '../lib/clock.js';
import { IdpError } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import type { User } from '../store/database.js';
import type { AccountRepository, SigningInUser } from '../store/repositories/account.repository.js';
import { verifyPassword } from './password.js';
import { createRefusalPace } from './refusal-pace.js';

export interface LoginAttempt {
  username: string;
  password: string;
  ip: string;
  requestId?: string;
}

/** Where a password check came from, for the audit trail. */
type CheckMeta = Pick<LoginAttempt, 'ip' | 'requestId'>;

type Lockout = Awaited<ReturnType<SettingsService['effective']>>['lockout'];

export interface LoginServiceDeps {
  accounts: AccountRepository;
  audit: AuditService;
  metrics: Metrics;
  settings: Pick<SettingsService, 'effective'>;
  clock: Clock;
}

/** While checks of the same account are in flight, a new one waits for their outcome (bounded: 5 s). */
const WAIT_STEP_MS = 25;
const WAIT_STEPS = 200;

/**
 * Password step. Unknown user, wrong password, locked and disabled accounts all get the same
 * error after the same argon2 work and as long a wait for the database (see refusal-pace.ts), so
 * the answer reveals nothing (ASVS 5 6.3.8).
 *
 * The lockout is decided before the hash comparison, not after it: each check first reserves its
 * place on the account (one conditional update), so a burst of guesses cannot all be compared
 * while the failure count still reads low; the ones beyond the budget wait for the outcome of
 * those in flight, and are refused once these have locked the account. A right password found
 * while a concurrent failure locked the account is refused rather than clearing that lock. The
 * account is the one the lookup found, whatever spelling of its username or e-mail was typed:
 * one account, one count.
 */
export function createLoginService(deps: LoginServiceDeps) {
  const { accounts, audit, metrics, settings, clock } = deps;

  const pace = createRefusalPace();

  /**
   * Whether the check may go ahead, and how long asking took (monotonic time: it measures work and
   * decides nothing); undefined when it had to wait for other checks, as its time then says nothing.
   */
  async function reserve(user: User, threshold: number): Promise<{ reserved: boolean; ms: number | undefined }> {
    const started = performance.now();
    for (let step = 0; ; step++) {
      const outcome = await accounts.reservePasswordCheck(user.id, threshold, clock.now());
      if (outcome !== 'busy' || step === WAIT_STEPS) return { reserved: outcome === 'reserved', ms: step === 0 ? performance.now() - started : undefined };
      await sleep(WAIT_STEP_MS);
    }
  }

  /** Settles a reserved check that found a wrong password: counted, and the account locked when it reaches the threshold. */
  async function countFailure(user: User, lockout: Lockout, meta: CheckMeta, reservedMs: number | undefined): Promise<void> {
    const counting = performance.now();
    const failure = await accounts.recordPasswordFailure(user.id, lockout.max_failures, lockout.lock_minutes, clock.now());
    if (reservedMs !== undefined) pace.record(reservedMs + performance.now() - counting);
    if (failure.lockedUntil) {
      await audit.record({
        type: 'authn.account.locked',
        outcome: 'success',
        subject: user.id,
        organizationId: user.organizationId,
        ip: meta.ip,
        requestId: meta.requestId,
        data: { failures: failure.failures, until: failure.lockedUntil.toISOString() },
      });
    }
  }

  return {
    /**
     * The password of a signed-in user asked again (to change it): the same reservation, count and
     * lockout as a sign-in, so guesses made here and at the login share one budget. While the
     * account is locked the stored hash is not compared.
     */
    async confirmPassword(user: User, password: string, meta: CheckMeta): Promise<'confirmed' | 'wrong_password' | 'account_locked'> {
      const { lockout } = await settings.effective(user.organizationId);
      const check = await reserve(user, lockout.max_failures);
      if (!check.reserved) {
        await verifyPassword(undefined, password);
        return 'account_locked';
      }
      if (!(await verifyPassword(user.passwordHash, password))) {
        await countFailure(user, lockout, meta, check.ms);
        return 'wrong_password';
      }
      return (await accounts.recordLogin(user.id, clock.now(), { signIn: false })) ? 'confirmed' : 'account_locked';
    },

    async passwordLogin(attempt: LoginAttempt): Promise<SigningInUser> {
      const refuse = async (user: User | undefined, reason: string): Promise<never> => {
        metrics.logins.inc({ outcome: 'failure' });
        await audit.record({
          type: 'authn.login.failed',
          outcome: 'failure',
          subject: user?.id ?? null,
          organizationId: user?.organizationId,
          ip: attempt.ip,
          requestId: attempt.requestId,
          data: { reason, factor: 'password' },
        });
        throw new IdpError('invalid_credentials', 'invalid username or password', { detail: { reason } });
      };
      const user = await accounts.findByLogin(attempt.username);
      const { lockout } = await settings.effective(user?.organizationId);
      const check = user ? await reserve(user, lockout.max_failures) : undefined;
      if (!user || !check?.reserved) {
        // The real hash is never compared here; the dummy comparison costs the same time, and the
        // wait stands for the writes of a counted failure that this refusal does not make.
        await verifyPassword(undefined, attempt.password);
        if (check?.ms !== undefined || !user) await sleep(Math.max(0, pace.writesMs() - (check?.ms ?? 0)));
        return refuse(user, !user ? 'unknown_user' : `account_${user.status === 'active' ? 'locked' : user.status}`);
      }
      // A temporary password past its time is no password: refused and counted like a wrong one.
      const wrong = !(await verifyPassword(user.passwordHash, attempt.password))
        ? 'wrong_password'
        : user.passwordTemporaryUntil && user.passwordTemporaryUntil.getTime() <= clock.now()
          ? 'temporary_password_expired'
          : undefined;
      if (wrong) {
        await countFailure(user, lockout, attempt, check.ms);
        return refuse(user, wrong);
      }
      if (!(await accounts.recordLogin(user.id, clock.now()))) return refuse(user, 'account_locked');
      return user;
    },
  };
}

export type LoginService = ReturnType<typeof createLoginService>;
