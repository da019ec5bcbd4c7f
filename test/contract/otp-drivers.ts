/**
 * Contract drivers for the methods whose code is sent (SMS, voice, e-mail): the user holds a
 * verified destination (enrolled through its real verification), and reads each code where the
 * outbox delivery wrote it.
 */
import type { CodeChannel } from '../../src/delivery/delivery.js';
import type { TestIdp } from '../helpers/env.js';
import { codesTo, lastCodeTo, otherCode } from '../helpers/otp.js';
import type { FactorDriver } from './factor.contract.js';

export interface HeldDestination {
  destinationId: string;
  to: string;
  /** The code that verified the destination: once valid, used since. */
  verificationCode: string;
}

let seq = 0;

export function otpDriver(channel: CodeChannel, dataDir: () => string): FactorDriver<HeldDestination> {
  const kind = channel === 'email' ? 'email' : 'phone';
  return {
    method: channel,
    async enrol(idp: TestIdp, accountId: string) {
      const user = (await idp.container.accounts.findById(accountId))!;
      const to = kind === 'phone' ? `+1415555${String(1000 + (++seq % 9000))}` : `contract-${channel}-${++seq}-${process.pid}@example.test`;
      const ctx = { actor: 'test', via: 'platform_api' as const };
      const added = await idp.container.destinations.add(user, kind, to, ctx);
      const { code } = await lastCodeTo(dataDir(), to);
      await idp.container.destinations.verify(user, added.id, code, ctx);
      return { destinationId: added.id, to, verificationCode: code };
    },
    beginBody: (held) => ({ channel, destination_id: held.destinationId }),
    valid: async (held) => (await lastCodeTo(dataDir(), held.to)).code,
    expired: async (_idp, _accountId, held) => held.verificationCode,
    async wrong(held) {
      const sent = await codesTo(dataDir(), held.to);
      return otherCode(sent[sent.length - 1]?.code ?? held.verificationCode);
    },
  };
}
