/**
 * Contract driver for push approval with number matching: the user holds a device key (an ES256
 * pair made here, as a browser's WebCrypto would), registered through the method's own enrolment
 * with a Web Push subscription to a push service run by the test, which decrypts the prompts the
 * IdP sends. The device answers at the IdP's answer endpoint; the login only polls.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sha256 } from '../../src/lib/crypto.js';
import type { TestIdp } from '../helpers/env.js';
import { deviceKey, pushService, type PromptMessage } from '../helpers/prompt-device.js';
import type { FactorDriver } from './factor.contract.js';

type DeviceKey = ReturnType<typeof deviceKey>;

/** A registered device (its key, and the IdP it answers), or a registration in progress (the nonce it must sign). */
export interface HeldDevice {
  key: DeviceKey;
  idp: TestIdp;
  accountId?: string;
  deviceId?: string;
  nonce?: string;
}

/** What a device sends: its signed answer to one prompt. */
interface DeviceAnswer {
  prompt_id: string;
  answer: Record<string, unknown>;
}

const SPANS = [60, 3600];

export async function promptDriver(getIdp: () => TestIdp) {
  const push = await pushService();
  /** Every prompt the push service delivered, oldest first. */
  const received: PromptMessage[] = [];
  const drain = async () => {
    // A start answers after the push service took the prompt: what it took is queued by then.
    while (push.pending() > 0) received.push(await push.next());
  };
  const registration = (key: DeviceKey, nonce: string) => ({
    transport: 'webpush',
    public_key: key.jwk,
    proof: key.proof(nonce),
    subscription: push.subscription(),
  });

  /**
   * The prompt behind the number a sign-in page shows, as the user matches it on the device: the
   * newest open one with that number, the device's own first. Concurrent prompts may show the same
   * choices, so the number is read from the prompt's row to tell them apart, as the user's eyes would.
   */
  async function promptShowing(held: HeldDevice, challenge: Record<string, unknown> | undefined): Promise<PromptMessage | undefined> {
    await drain();
    if (typeof challenge?.number !== 'number') return undefined;
    const newest = [...received].reverse();
    const ordered = [...newest.filter((m) => m.device_id === held.deviceId), ...newest.filter((m) => m.device_id !== held.deviceId)];
    for (const message of ordered) {
      const row = await held.idp.container.db
        .selectFrom('prompts')
        .select(['number', 'status'])
        .where('ref', '=', sha256(message.prompt_id))
        .executeTakeFirst();
      if (row?.status === 'pending' && row.number === challenge.number) return message;
    }
    return undefined;
  }

  /** An answer to the prompt showing the challenge's number; with no challenge, to a prompt never issued. */
  async function answering(held: HeldDevice, challenge: Record<string, unknown> | undefined, decide: (message: PromptMessage, number: number) => number) {
    const message = await promptShowing(held, challenge);
    if (challenge && !message) throw new Error(`no open prompt shows ${String(challenge.number)}`);
    const id = message?.prompt_id ?? randomBytes(16).toString('base64url');
    const number = Number(challenge?.number ?? 42);
    return { prompt_id: id, answer: held.key.answer(id, 'approve', message ? decide(message, number) : number) } satisfies DeviceAnswer;
  }

  const post = async (promptId: string, body: string, type = 'application/json') => {
    const res = await fetch(`${getIdp().url}/api/v1/prompts/${promptId}/respond`, { method: 'POST', headers: { 'content-type': type }, body });
    return { status: res.status, body: await res.json().catch((): unknown => undefined) };
  };

  const driver: FactorDriver<HeldDevice> = {
    method: 'prompt',
    async enrol(idp, accountId) {
      const key = deviceKey();
      const enrolment = idp.container.factors.get('prompt')!.enrolment!;
      const binding = `contract:${randomUUID()}`;
      const { shown } = await enrolment.begin(accountId, 'contract', 'contract', undefined, binding);
      const { credentialId } = await enrolment.confirm(accountId, { credential: registration(key, String(shown.nonce)) }, binding);
      return { key, idp, accountId, deviceId: credentialId };
    },
    /** A registration while one is pending; else the approval, with the number shown, of the prompt showing it. */
    async valid(held, challenge) {
      if (held.nonce) return { credential: registration(held.key, held.nonce) };
      return answering(held, challenge, (_message, number) => number);
    },
    /** A registration proved by another key; else another of the choices picked (a denial). */
    async wrong(held, challenge) {
      if (held.nonce) return { credential: { ...registration(held.key, held.nonce), proof: deviceKey().proof(held.nonce) } };
      return answering(held, challenge, (message, number) => message.choices.find((c) => c !== number)!);
    },
    /** The approval of a prompt that the login it was for has used: it answers nothing any more. */
    async expired(idp, accountId, held) {
      const factor = idp.container.factors.get('prompt')!;
      const binding = `login:contract-${randomUUID()}`;
      const ctx = () => ({ accountId, now: idp.container.clock.now(), binding });
      await driver.beforeStart!(held);
      const { shown, state } = await factor.challenge!.start(ctx());
      const approval = (await driver.valid(held, shown)) as DeviceAnswer;
      const sent = await driver.send!(approval);
      if (sent.status !== 200) throw new Error(`the device's approval was not taken: ${sent.status}`);
      // That login's poll claims the answer, and its check makes it the login's factor.
      if ((await factor.challenge!.waiting!({ ...ctx(), challenge: state })) !== undefined) throw new Error('the approval was not claimed');
      await factor.verify({ ...ctx(), challenge: state }, undefined);
      return approval;
    },
    fromSelfService: async (shown) => ({ key: deviceKey(), idp: getIdp(), nonce: String(shown.nonce) }),
    send: (response) => {
      const { prompt_id, answer } = response as DeviceAnswer;
      return post(prompt_id, JSON.stringify(answer));
    },
    /** In place of the number picked, or a body as it is, for the prompt showing the challenge's number. */
    async hostile(held, challenge, input) {
      const { prompt_id, answer } = await answering(held, challenge, (_message, number) => number);
      return 'value' in input ? post(prompt_id, JSON.stringify({ ...answer, number: input.value })) : post(prompt_id, input.body, input.type);
    },
    /**
     * Prompts are limited per account against push fatigue (their own tests check it); the contract
     * starts more of them for one account than a person could, so it clears the windows first.
     */
    async beforeStart(held) {
      const now = held.idp.container.clock.now();
      await Promise.all(SPANS.map((span) => held.idp.container.ephemeral.del(`prompt-sent:${span}:${held.accountId}:${Math.floor(now / (span * 1000))}`)));
    },
  };
  return { driver, close: () => push.close() };
}
