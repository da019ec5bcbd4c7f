import type { AuditService } from '../../audit/audit.service.js';
import type { MailDelivery } from '../../delivery/delivery.js';
import type { SecretBox } from '../../lib/crypto.js';
import { conflict, notFound } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { FactorDescriptor, MfaMethod } from '../../policy/types.js';
import type { CredentialRow, User } from '../../store/database.js';
import type { CredentialRepository } from '../../store/repositories/credential.repository.js';
import { FactorError, eventOf } from '../factor.js';
import type { FactorOutcomes } from '../factor-outcomes.js';
import type { ChangeContext } from '../self-service.service.js';
import type { OneTimeCodes } from './codes.js';
import type { CodeSender, Sent } from './code-sender.js';
import { DESTINATION_KINDS, destinationHash, maskOf, normalise, type DestinationKind } from './destination.js';

/** At most this many phones (and as many addresses) per account, pending ones included. */
const MAX_PER_KIND = 10;

const CHANNELS: Record<DestinationKind, readonly MfaMethod[]> = { phone: ['sms', 'voice'], email: ['email'] };

export interface DestinationView {
  id: string;
  type: DestinationKind;
  channels: readonly MfaMethod[];
  mask: string;
  verified: boolean;
  created_at: string;
}

/** One destination a challenge offers: the same phone appears once per channel the login offers. */
export interface OfferedDestination {
  id: string;
  channel: MfaMethod;
  mask: string;
}

export interface DestinationDeps {
  credentials: CredentialRepository;
  box: SecretBox;
  codes: OneTimeCodes;
  sender: CodeSender;
  mail: MailDelivery;
  outcomes: Pick<FactorOutcomes, 'changed'>;
  audit: AuditService;
  logger: Pick<Logger, 'warn'>;
  key: string;
  now: () => number;
  /** The method a verification code proves, per kind: its event is recorded as the session's second factor. */
  provenBy: Record<DestinationKind, FactorDescriptor>;
}

const duplicate = (kind: DestinationKind) => conflict(`${kind}: is already one of this account's destinations`);

const isDestination = (row: CredentialRow): row is CredentialRow & { kind: DestinationKind } => (DESTINATION_KINDS as readonly string[]).includes(row.kind);

const view = (row: CredentialRow & { kind: DestinationKind }): DestinationView => ({
  id: row.id,
  type: row.kind,
  channels: CHANNELS[row.kind],
  mask: row.name ?? '',
  verified: row.confirmedAt !== null,
  created_at: row.createdAt.toISOString(),
});

/** The binding a destination's verification code is kept under: whoever holds the code, for that destination only. */
export const verifyBinding = (credentialId: string) => `verify:${credentialId}`;

/**
 * Verified phone numbers and e-mail addresses (`credentials` rows of kind `phone` / `email`, the
 * value sealed, a keyed hash beside it to find the same one twice, the mask as the name). A new one
 * is pending until the code sent to the value stored with it comes back, so a request can never
 * send the verification code elsewhere.
 */
export function createDestinationService(deps: DestinationDeps) {
  const { credentials } = deps;

  async function owned(userId: string, id: string): Promise<CredentialRow & { kind: DestinationKind }> {
    const row = await credentials.findOwned(userId, id);
    if (!row || !isDestination(row)) throw notFound('no such destination');
    return row;
  }

  const channelFor = (kind: DestinationKind) => (kind === 'phone' ? 'sms' : 'email');

  function sendVerification(user: Pick<User, 'id' | 'organizationId' | 'locale' | 'name'>, row: CredentialRow & { kind: DestinationKind }): Promise<Sent> {
    return deps.sender.send({
      user,
      binding: verifyBinding(row.id),
      channel: channelFor(row.kind),
      kind: row.kind,
      destinationId: row.id,
      to: deps.box.open(row.secretSealed!),
      purpose: 'verify_destination',
    });
  }

  /** A notice to the account's other verified addresses: a new place can now receive its codes. */
  async function notify(user: User, added: CredentialRow & { kind: DestinationKind }): Promise<void> {
    const others = (await credentials.listActive(user.id, 'email')).filter((r) => r.id !== added.id && r.secretSealed);
    await Promise.all(
      others.map((r) =>
        deps.mail
          .send({
            to: deps.box.open(r.secretSealed!),
            template: 'destination-added',
            data: { type: added.kind, mask: added.name },
            organizationId: user.organizationId,
            locale: user.locale,
            name: user.name,
          })
          .catch((err: unknown) => deps.logger.warn({ err, destination: r.id }, 'the notice of a new destination could not be sent')),
      ),
    );
  }

  async function insert(user: User, kind: DestinationKind, raw: string, verified: boolean) {
    const value = normalise(kind, raw);
    const hash = destinationHash(deps.key, kind, value);
    const same = await credentials.findByHash(user.id, kind, hash);
    if (same.some((r) => r.confirmedAt !== null)) throw duplicate(kind);
    // A second request for the same pending one starts it again.
    await Promise.all(same.map((r) => credentials.deleteOwned(user.id, r.id)));
    if ((await credentials.listAll(user.id, kind)).length >= MAX_PER_KIND) throw conflict(`${kind}: at most ${MAX_PER_KIND} per account`);
    const row = await credentials
      .insert({
        userId: user.id,
        kind,
        name: maskOf(kind, value),
        secretSealed: deps.box.seal(value),
        secretHash: hash,
        confirmed: verified,
      })
      .catch((err: unknown) => {
        // The same one verified by a concurrent request (the unique index on verified destinations).
        if ((err as { code?: unknown }).code === '23505') throw duplicate(kind);
        throw err;
      });
    return row as CredentialRow & { kind: DestinationKind };
  }

  return {
    async list(userId: string): Promise<DestinationView[]> {
      const rows = await Promise.all(DESTINATION_KINDS.map((k) => credentials.listAll(userId, k)));
      return rows.flat().filter(isDestination).map(view);
    },

    async get(userId: string, id: string): Promise<DestinationView> {
      return view(await owned(userId, id));
    },

    /** The verified destinations a challenge offering `methods` lists, one entry per channel. */
    async offered(accountId: string, methods: readonly MfaMethod[]): Promise<OfferedDestination[]> {
      const out: OfferedDestination[] = [];
      for (const kind of DESTINATION_KINDS) {
        const channels = CHANNELS[kind].filter((c) => methods.includes(c));
        if (!channels.length) continue;
        for (const row of await credentials.listActive(accountId, kind))
          for (const channel of channels) out.push({ id: row.id, channel, mask: row.name ?? '' });
      }
      return out;
    },

    /**
     * A new destination: pending, with a code sent to it, or (an administrator vouching for it)
     * verified at once. The account's other sessions and devices end once it is verified, not before.
     */
    async add(
      user: User,
      kind: DestinationKind,
      raw: string,
      ctx: ChangeContext,
      opts: { verified?: boolean } = {},
    ): Promise<DestinationView & { code_sent?: Sent }> {
      const row = await insert(user, kind, raw, opts.verified === true);
      if (opts.verified) {
        await deps.outcomes.changed(user, ctx, 'authn.destination.verified', { type: kind, destination: row.id, vouched: true });
        await notify(user, row);
        return view(row);
      }
      await deps.audit.record({
        type: 'authn.destination.added',
        outcome: 'success',
        actor: ctx.actor,
        subject: user.id,
        organizationId: user.organizationId,
        data: { via: ctx.via, type: kind, destination: row.id },
      });
      return { ...view(row), code_sent: await sendVerification(user, row) };
    },

    /** The pending destination's code again, to the value stored with it. */
    async resend(user: User, id: string): Promise<Sent> {
      const row = await owned(user.id, id);
      if (row.confirmedAt) throw conflict('the destination is already verified');
      return sendVerification(user, row);
    },

    /** The code sent to a pending destination: it is verified, and counts as a second factor proven now. */
    async verify(user: User, id: string, code: unknown, ctx: ChangeContext) {
      const row = await owned(user.id, id);
      if (row.confirmedAt) throw conflict('the destination is already verified');
      try {
        await deps.codes.check(verifyBinding(row.id), code);
      } catch (err) {
        if (err instanceof FactorError) {
          await deps.audit.record({
            type: 'authn.destination.verification_failed',
            outcome: 'failure',
            actor: ctx.actor,
            subject: user.id,
            organizationId: user.organizationId,
            data: { via: ctx.via, destination: row.id },
          });
        }
        throw err;
      }
      // Removed meanwhile, or the same one verified through another pending row.
      if (!(await credentials.confirm(user.id, row.id))) throw duplicate(row.kind);
      await deps.outcomes.changed(user, ctx, 'authn.destination.verified', { type: row.kind, destination: row.id });
      await notify(user, row);
      const event = eventOf(deps.provenBy[row.kind], deps.now(), row.id);
      return { destination: view({ ...row, confirmedAt: new Date() }), event };
    },

    /** Removes one; `beforeVerified` runs first for a verified one (the last factor a policy needs stays). */
    async remove(user: User, id: string, ctx: ChangeContext, beforeVerified: (kind: DestinationKind) => Promise<void>): Promise<void> {
      const row = await owned(user.id, id);
      if (row.confirmedAt) await beforeVerified(row.kind);
      if (!(await credentials.deleteOwned(user.id, row.id))) throw notFound('no such destination');
      await deps.codes.discard(verifyBinding(row.id));
      if (row.confirmedAt) await deps.outcomes.changed(user, ctx, 'authn.destination.removed', { type: row.kind, destination: row.id });
    },

    /** Refuses a phone or address that cannot be a destination, before anything is written. */
    check(given: { phone?: string; email?: string }): void {
      for (const kind of DESTINATION_KINDS) if (given[kind]) normalise(kind, given[kind]);
    },

    /** The verified phone and address an account is created with (the platform vouches for them). */
    async adopt(user: User, given: { phone?: string; email?: string }, ctx: ChangeContext): Promise<void> {
      for (const kind of DESTINATION_KINDS) {
        const value = given[kind];
        if (value) await insert(user, kind, value, true);
      }
      if (given.phone || given.email) {
        await deps.audit.record({
          type: 'authn.destination.verified',
          outcome: 'success',
          actor: ctx.actor,
          subject: user.id,
          organizationId: user.organizationId,
          data: { via: ctx.via, vouched: true },
        });
      }
    },
  };
}

export type DestinationService = ReturnType<typeof createDestinationService>;
