import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import type { AuditService } from '../../../audit/audit.service.js';
import type { Clock } from '../../../lib/clock.js';
import type { SecretBox } from '../../../lib/crypto.js';
import type { CredentialRepository } from '../../../store/repositories/credential.repository.js';
import type { AuthEvent, FactorDescriptor } from '../../../policy/types.js';
import { FactorError, eventOf, type Factor, type FactorContext } from '../../factor.js';
import { totpCodeSchema } from './totp.schema.js';
import { challengeView, enrolmentView } from './totp.view.js';

const PERIOD = 30;

/** A one-time password from a device the user holds: a second factor, AAL2, phishable (NIST SP 800-63B §5.1.4). */
export const totpDescriptor: FactorDescriptor = {
  method: 'totp',
  amr: ['otp'],
  secondFactor: true,
  phishingResistant: false,
  aal: 2,
  enrollableInLogin: true,
  recovery: false,
};

export interface TotpDeps {
  credentials: CredentialRepository;
  box: SecretBox;
  clock: Clock;
  /** Told of a code refused because its step was already used: someone else may be holding the user's codes. */
  audit?: Pick<AuditService, 'record'>;
}

interface TotpEnrollment {
  credentialId: string;
  secret: string;
  otpauthUri: string;
  qrSvg: string;
  qrPng: string;
}

/**
 * RFC 6238 TOTP (SHA-1, 6 digits, 30 s), ±1 step of drift. The last accepted step is stored and
 * advanced with a compare-and-set, so a code is accepted once only, even under concurrency.
 * Only server time is used.
 */
export function createTotpFactor(deps: TotpDeps) {
  const { credentials, box, clock } = deps;

  /** The matched step, or undefined. Never throws for bad input. */
  async function matchStep(sealed: string, code: string, lastStep: number | null, now: number): Promise<number | undefined> {
    const epoch = Math.floor(now / 1000);
    const current = Math.floor(epoch / PERIOD);
    // otplib refuses an afterTimeStep beyond the window (clock stepped back): nothing can match then anyway.
    if (lastStep !== null && lastStep >= current + 1) return undefined;
    const result = await verify({
      secret: box.open(sealed),
      token: code,
      epoch,
      epochTolerance: PERIOD,
      ...(lastStep !== null ? { afterTimeStep: lastStep } : {}),
    }).catch(() => ({ valid: false as const }));
    return result.valid && 'timeStep' in result ? result.timeStep : undefined;
  }

  /** A right code of a step already used (or taken by a concurrent answer): a replay, which the account's owner is told of. */
  async function replayed(row: { id: string; userId: string; secretSealed: string | null }, code: string, now: number): Promise<void> {
    if (!deps.audit || !row.secretSealed || (await matchStep(row.secretSealed, code, null, now)) === undefined) return;
    await deps.audit.record({ type: 'authn.totp.replayed', outcome: 'failure', subject: row.userId, data: { credential: row.id } });
  }

  async function verifyAgainst(rows: { id: string; userId: string; secretSealed: string | null; lastTotpStep: number | null }[], code: unknown, now: number) {
    if (typeof code !== 'string') throw new FactorError('malformed', 'code must be a string');
    if (!totpCodeSchema.safeParse(code).success) throw new FactorError('invalid_code');
    for (const row of rows) {
      if (!row.secretSealed) continue;
      const step = await matchStep(row.secretSealed, code, row.lastTotpStep === null ? null : Number(row.lastTotpStep), now);
      if (step !== undefined && (await credentials.advanceTotpStep(row.id, step))) return row.id;
      if (row.lastTotpStep !== null || step !== undefined) await replayed(row, code, now);
    }
    throw new FactorError('invalid_code');
  }

  /** Confirms the pending enrolment with a first valid code; it then replaces any previous TOTP. */
  async function confirm(accountId: string, code: unknown): Promise<AuthEvent> {
    const pending = await credentials.findPending(accountId, 'totp');
    if (!pending) throw new FactorError('invalid_code', 'no TOTP enrolment is pending');
    const now = clock.now();
    const id = await verifyAgainst([pending], code, now);
    await credentials.replaceKind(accountId, 'totp', id);
    return eventOf(totpDescriptor, now, id);
  }

  /**
   * Starts an enrolment: a new secret, pending until a first valid code confirms it. With `resume`,
   * the pending credential of that id is shown again while it is still the pending one, so a reload
   * or a wrong code never replaces the secret the user has already scanned.
   */
  async function begin(accountId: string, label: string, issuer: string, resume?: string): Promise<TotpEnrollment> {
    const pending = resume ? await credentials.findPending(accountId, 'totp') : undefined;
    let credentialId: string;
    let secret: string;
    if (pending && pending.id === resume && pending.secretSealed) {
      credentialId = pending.id;
      secret = box.open(pending.secretSealed);
    } else {
      secret = generateSecret({ length: 20 });
      await credentials.deleteKindPending(accountId, 'totp');
      credentialId = (
        await credentials.insert({ userId: accountId, kind: 'totp', name: 'Authenticator app', secretSealed: box.seal(secret), confirmed: false })
      ).id;
    }
    const otpauthUri = generateURI({ issuer, label, secret });
    const [qrSvg, qrPng] = await Promise.all([QRCode.toString(otpauthUri, { type: 'svg' }), QRCode.toDataURL(otpauthUri)]);
    return { credentialId, secret, otpauthUri, qrSvg, qrPng };
  }

  const factor: Factor = {
    descriptor: totpDescriptor,
    paths: { challenge: 'totp', manage: 'totp' },
    challengeView,
    async verify(ctx: FactorContext, response: unknown) {
      const id = await verifyAgainst(await credentials.listActive(ctx.accountId, 'totp'), response, ctx.now);
      return eventOf(totpDescriptor, ctx.now, id);
    },
    enrolment: {
      async begin(accountId, label, issuer, resume) {
        const e = await begin(accountId, label, issuer, resume);
        return { credentialId: e.credentialId, shown: { secret: e.secret, otpauth_uri: e.otpauthUri, qr_code_svg: e.qrSvg, qr_code_png: e.qrPng } };
      },
      confirm,
      view: enrolmentView,
    },
    recognizes: (response) => totpCodeSchema.safeParse(response).success,
    remove: async (accountId) => (await credentials.deleteKind(accountId, 'totp')) > 0,
    selfService: {
      summaryKey: 'totp',
      status: async (accountId, active) => ({ enrolled: active > 0, pending: (await credentials.findPending(accountId, 'totp')) !== undefined }),
      enrolmentBody: ({ shown }) => ({ secret: shown.secret, qr_code_uri: shown.otpauth_uri, qr_code_svg: shown.qr_code_svg, qr_code_png: shown.qr_code_png }),
    },
  };

  return factor;
}
