import { randomBytes, randomInt } from 'node:crypto';
import type { AuditService } from '../../../audit/audit.service.js';
import type { Clock } from '../../../lib/clock.js';
import { sha256, type SecretBox } from '../../../lib/crypto.js';
import { IdpError, conflict, notFound, tooManyRequests } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import type { GeoLocator } from '../../../risk/geoip.js';
import type { EphemeralStore } from '../../../store/ephemeral-store.js';
import type { PromptDevice, PromptRepository } from '../../../store/repositories/prompt.repository.js';
import { FactorError, type FactorContext } from '../../factor.js';
import { answerMessage, verifiesWith } from './device-key.js';
import type { PromptAnswer } from './prompt.schema.js';
import { createPromptPush, type PromptMessage } from './push.js';
import { createVapidKeys } from './vapid.js';

export interface PromptDeps {
  repo: PromptRepository;
  box: SecretBox;
  clock: Clock;
  audit: AuditService;
  ephemeral: EphemeralStore;
  logger: Pick<Logger, 'warn'>;
  issuer: string;
  /** The offline GeoIP database, for the approximate place a prompt shows. */
  geo: () => Promise<GeoLocator>;
  /** The relying party's name as its users know it. */
  appName: (clientId: string) => Promise<string | undefined>;
  /** Push endpoints on http://127.0.0.1 (a test's or a developer's receiver); never in production. */
  allowLoopbackHttp: boolean;
  /** How long a prompt can be answered: 2 minutes at most. */
  ttlSeconds?: number;
  /** Prompts per account, against push fatigue (a user approving to make the prompts stop). */
  limits?: { perMinute: number; perHour: number };
}

/** What a login keeps of its prompt: the prompt's reference, never its id (a bearer value). */
interface PromptState {
  ref: string;
}

const MAX_TTL_SECONDS = 120;
const DEFAULT_LIMITS = { perMinute: 3, perHour: 10 };

/** The right number and two others, in random order, all two-digit (10..99). */
function choicesAround(number: number): number[] {
  const choices = new Set([number]);
  while (choices.size < 3) choices.add(randomInt(10, 100));
  const list = [...choices];
  for (let i = list.length - 1; i > 0; i--) {
    const j = randomInt(0, i + 1);
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

const stateOf = (ctx: FactorContext): PromptState | undefined => {
  const ref = (ctx.challenge as Partial<PromptState> | undefined)?.ref;
  return typeof ref === 'string' ? { ref } : undefined;
};

/**
 * Push approval with number matching. A prompt is a row with a random id (sent only to the
 * devices), bound to the login that asked (hash of `ctx.binding`); a device answers it with a
 * signature by its registered key, once and before it expires (compare-and-set); one poll of the
 * login claims the answer and the check turns the claim into the factor (compare-and-set each), so
 * an answer is used by one login, one time.
 */
export function createPromptService(deps: PromptDeps) {
  const { repo, clock, audit } = deps;
  const ttl = Math.min(deps.ttlSeconds ?? MAX_TTL_SECONDS, MAX_TTL_SECONDS);
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const vapid = createVapidKeys(repo, deps.box);
  const issuer = new URL(deps.issuer);
  const push = createPromptPush({
    box: deps.box,
    vapid: () => vapid.get(),
    contact: issuer.protocol === 'https:' ? issuer.origin : `mailto:security@${issuer.hostname}`,
    webhookOf: (userId) => repo.findWebhookOfUser(userId),
    now: () => clock.now(),
  });
  const bindingHash = (binding: string) => sha256(binding);

  /** Fixed windows per account; over either, 429 with the seconds until that window ends. */
  async function throttle(accountId: string, now: number): Promise<void> {
    for (const [spanSec, limit] of [
      [60, limits.perMinute],
      [3600, limits.perHour],
    ] as const) {
      const window = Math.floor(now / (spanSec * 1000));
      const count = await deps.ephemeral.increment(`prompt-sent:${spanSec}:${accountId}:${window}`, spanSec);
      if (count > limit) throw tooManyRequests(Math.max(1, Math.ceil(((window + 1) * spanSec * 1000 - now) / 1000)));
    }
  }

  async function placeOf(ip: string | undefined): Promise<string> {
    if (!ip) return 'Unknown';
    try {
      const found = (await deps.geo()).locate(ip);
      return found ? [found.city, found.country].filter(Boolean).join(', ') : 'Unknown';
    } catch {
      return 'Unknown';
    }
  }

  async function deliver(devices: readonly PromptDevice[], message: Omit<PromptMessage, 'device_id'>): Promise<number> {
    const sent = await Promise.allSettled(devices.map((d) => push(d, { ...message, device_id: d.id }, ttl)));
    sent.forEach((r, i) => {
      if (r.status === 'rejected') deps.logger.warn({ err: r.reason as unknown, device: devices[i]!.id }, 'a prompt did not reach a device');
    });
    return sent.filter((r) => r.status === 'fulfilled').length;
  }

  return {
    vapidPublicKey: async () => (await vapid.get()).publicKey,

    /** A new prompt for this login, sent to every device of the account; the number goes to the sign-in page only. */
    async start(ctx: FactorContext): Promise<{ shown: Record<string, unknown>; state: PromptState }> {
      // Polling needs the login's transaction; a session's step-up has no such poll.
      if (!ctx.binding?.startsWith('login:')) throw new FactorError('refused', 'a prompt can be answered only inside a sign-in');
      await throttle(ctx.accountId, ctx.now);
      const devices = await repo.listDevices(ctx.accountId);
      if (!devices.length) throw new FactorError('refused', 'no device is registered for prompts');
      const id = randomBytes(16).toString('base64url');
      const ref = sha256(id);
      const number = randomInt(10, 100);
      const choices = choicesAround(number);
      const clientId = ctx.origin?.clientId;
      const appName = (clientId && (await deps.appName(clientId))) || clientId || 'Unknown app';
      const location = await placeOf(ctx.origin?.ip);
      const createdAt = new Date(ctx.now);
      const expiresAt = new Date(ctx.now + ttl * 1000);
      await repo.insertPrompt({ ref, userId: ctx.accountId, bindingHash: bindingHash(ctx.binding), number, choices, appName, location, createdAt, expiresAt });
      const base = `${deps.issuer}/api/v1/prompts/${id}`;
      const delivered = await deliver(devices, {
        type: 'idp.prompt',
        prompt_id: id,
        app: appName,
        location,
        time: createdAt.toISOString(),
        choices,
        expires_at: expiresAt.toISOString(),
        callback_url: `${base}/respond`,
        details_url: base,
      });
      await audit.record({
        type: 'authn.prompt.sent',
        outcome: delivered ? 'success' : 'failure',
        subject: ctx.accountId,
        data: { devices: devices.length, delivered },
      });
      return { shown: { status: 'prompt_sent', number, expires_in: ttl, delivered }, state: { ref } };
    },

    /**
     * The login's poll: how the prompt stands, or undefined for the one poll that claimed the
     * device's answer (it goes on to `settle`, and is counted like any factor check). Concurrent
     * polls claim an answer once between them, so a second poll is never counted as a failure.
     */
    async waiting(ctx: FactorContext): Promise<Record<string, unknown> | undefined> {
      const state = stateOf(ctx);
      const row = state && (await repo.findPrompt(state.ref));
      if (!state || !row || row.userId !== ctx.accountId || !ctx.binding || row.bindingHash !== bindingHash(ctx.binding)) return undefined;
      switch (row.status) {
        case 'pending': {
          const left = Math.ceil((row.expiresAt.getTime() - ctx.now) / 1000);
          return left > 0 ? { status: 'pending', number: row.number, expires_in: left } : { status: 'expired' };
        }
        case 'approved':
        case 'denied':
          if (await repo.claimAnswer(state.ref, ctx.accountId, row.bindingHash)) return undefined;
          return { status: 'pending' };
        // Claimed by another poll, which is finishing the login.
        case 'used':
          return { status: 'pending' };
        case 'refused':
          return { status: 'denied' };
        default:
          return { status: 'expired' };
      }
    },

    /** The claimed answer: the approving device's id (once), or a refusal. */
    async settle(ctx: FactorContext): Promise<string> {
      const state = stateOf(ctx);
      const deviceId = state && ctx.binding ? await repo.finishApproval(state.ref, ctx.accountId, bindingHash(ctx.binding)) : undefined;
      if (!deviceId) throw new FactorError('invalid_code', 'the prompt was denied or not answered');
      await repo.touchDevice(deviceId);
      return deviceId;
    },

    /** What the device page shows of an open prompt: the login's details and the choices, not which is right. */
    async view(id: string): Promise<Record<string, unknown>> {
      const row = await repo.findPrompt(sha256(id));
      if (!row) throw notFound('no such prompt');
      if (row.status !== 'pending' || row.expiresAt.getTime() <= clock.now()) throw new IdpError('prompt_expired', 'this prompt is no longer open');
      return { app: row.appName, location: row.location, time: row.createdAt.toISOString(), choices: row.choices, expires_at: row.expiresAt.toISOString() };
    },

    /**
     * A device's answer, signed by one of the account's registered device keys. A wrong number is a
     * denial; the answer lands only on a prompt still open, once, whatever else arrives at the same time.
     */
    async answer(id: string, answer: PromptAnswer): Promise<{ status: 'approved' | 'denied' }> {
      const ref = sha256(id);
      const row = await repo.findPrompt(ref);
      if (!row) throw notFound('no such prompt');
      const message = answerMessage(id, answer.decision, answer.number);
      const device = (await repo.listDevices(row.userId)).find((d) => verifiesWith(d.publicJwk, message, answer.signature));
      if (!device) {
        await audit.record({ type: 'authn.prompt.signature_refused', outcome: 'failure', subject: row.userId, data: {} });
        throw new IdpError('invalid_signature', 'the answer is not signed by a device registered for this account');
      }
      const matched = answer.decision === 'approve' && answer.number === row.number;
      const status = matched ? 'approved' : 'denied';
      const landed = await repo.answerPrompt(ref, status, device.id, new Date(clock.now()));
      if (!landed) {
        const now = await repo.findPrompt(ref);
        if (now?.status === 'pending' || now?.status === 'closed') throw new IdpError('prompt_expired', 'this prompt is no longer open');
        throw conflict('this prompt has already been answered');
      }
      const reason = answer.decision === 'deny' ? 'denied' : matched ? 'approved' : 'wrong_number';
      await audit.record({ type: 'authn.prompt.answered', outcome: matched ? 'success' : 'failure', subject: row.userId, data: { device: device.id, reason } });
      return { status };
    },
  };
}

export type PromptService = ReturnType<typeof createPromptService>;
