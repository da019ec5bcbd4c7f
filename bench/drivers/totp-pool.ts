import type { TotpLogin } from './flow.js';

const PERIOD_S = 30;

export interface TotpUser {
  username: string;
  secret: string;
}

/**
 * Hands out users for password + TOTP logins so that none logs in twice within one 30-second
 * TOTP step: the server accepts a code once per user per step (it stores the last accepted step)
 * and a second login in the same step would be a replay.
 *
 * A ring over all users: `take()` reserves the next user not yet used in the current step and
 * returns the current time as the epoch of its code, so the step the server will record is the
 * step reserved here even if the login crosses a step boundary before it posts the code (the
 * server accepts ±1 step). A user is free again from the next step on. When every user has been
 * used in the current step the pool is too small for the rate: `take()` waits for the next step
 * (so a virtual user does not spin) and throws, which the scenario counts as an error.
 */
export class TotpUserPool {
  private readonly lastStep: Int32Array;
  private next = 0;
  /** Logins refused because the pool was exhausted within one step (each is also an error of the scenario). */
  exhausted = 0;
  /** Most logins handed out within one step. */
  maxPerStep = 0;
  private stepNow = -1;
  private inStep = 0;

  constructor(
    readonly users: readonly TotpUser[],
    readonly password: string,
    private readonly onExhausted?: (n: number) => void,
  ) {
    if (!users.length) throw new Error('empty TOTP user pool');
    this.lastStep = new Int32Array(users.length).fill(-1);
  }

  get size(): number {
    return this.users.length;
  }

  async take(): Promise<TotpLogin> {
    const epoch = Math.floor(Date.now() / 1000);
    const step = Math.floor(epoch / PERIOD_S);
    const n = this.users.length;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      if (this.lastStep[i]! < step) {
        this.lastStep[i] = step;
        this.next = (i + 1) % n;
        if (step !== this.stepNow) {
          this.stepNow = step;
          this.inStep = 0;
        }
        this.maxPerStep = Math.max(this.maxPerStep, ++this.inStep);
        const u = this.users[i]!;
        return { username: u.username, password: this.password, secret: u.secret, epoch };
      }
    }
    this.exhausted += 1;
    this.onExhausted?.(this.exhausted);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, (step + 1) * PERIOD_S * 1000 - Date.now()) + 20));
    throw new Error(`TOTP user pool exhausted: all ${n} users already logged in during this 30-s step (raise --totp-users)`);
  }
}
