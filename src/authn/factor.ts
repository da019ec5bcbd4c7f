import { IdpError } from '../lib/errors.js';
import type { Aal, AuthEvent, FactorDescriptor } from '../policy/types.js';

export interface FactorContext {
  accountId: string;
  now: number;
  /** What `challenge.start` (or `passwordless.start`) kept server-side for this login, for a method that has that step. */
  challenge?: unknown;
  /** The assurance the relying party asked for: a challenge may offer only the credentials that can reach it. */
  requiredAal?: Aal;
  /**
   * Who is answering: `login:<uid>` inside a login, `session:<id>` in self-service. A method that
   * keeps state of its own (a code it sent) binds it to this, so another login cannot answer it.
   */
  binding?: string;
  /** Where the login comes from, for a method that shows it on another device (a prompt: the app and the approximate place). */
  origin?: { ip?: string; clientId?: string };
}

/**
 * One MFA method, plugged in through the registry. Stateless: challenge state (if any) is kept
 * by the caller in the login transaction; `verify` returns the event it earned or throws FactorError.
 */
export interface Factor {
  readonly descriptor: FactorDescriptor;
  /**
   * URL segments: the challenge at /interaction/{uid}/mfa/{challenge}, self-service at /api/v1/mfa/{manage}.
   * A method with a `challenge` step starts it at {challenge}/{begin} and is answered at
   * {challenge}/{finish} (`begin` and `finish` by default; an empty `finish` is {challenge} itself).
   * Several methods may share a challenge path (codes by SMS, voice or email at `otp`): the start
   * names the method in its `channel` field, and the answer goes to the method last started there.
   */
  readonly paths: { readonly challenge: string; readonly manage: string; readonly begin?: string; readonly finish?: string };
  /**
   * The method's form on the challenge page: an Eta template (autoescaped) given the page's
   * data (`uid`, `csrf`); it posts the response to /interaction/{uid}/mfa/{challenge path}.
   */
  readonly challengeView: string;
  verify(ctx: FactorContext, response: unknown): Promise<AuthEvent>;
  /** The response has this method's form (a doorway that takes any code uses it to pick the method). */
  recognizes(response: unknown): boolean;
  /** How the method is set up; absent for a method set up elsewhere. */
  readonly enrolment?: Enrolment;
  /**
   * Ends the method for the account, pending enrolments included; false when there was nothing
   * to remove. Absent for a method that cannot be removed by itself.
   */
  remove?(accountId: string): Promise<boolean>;
  /** What the account can do with the method itself under /api/v1/mfa/{manage}; absent: nothing beyond removal. */
  readonly selfService?: SelfService;
  /**
   * A step before `verify`, for a method whose response answers a server-held challenge (WebAuthn:
   * request options bound to a random challenge). Absent for a method the user answers unprompted.
   */
  readonly challenge?: ChallengeStep;
  /**
   * Signing in with this method instead of a password, for a method whose response names the
   * account (a discoverable WebAuthn credential). `verify` then gets the state `start` kept.
   */
  readonly passwordless?: PasswordlessStep;
  /**
   * Whether one of the account's credentials can reach this AAL, for a method whose credentials
   * differ (a synced passkey reaches AAL2, a device-bound one AAL3); absent: all reach the descriptor's.
   */
  canReach?(accountId: string, aal: Aal): Promise<boolean>;
}

export interface PasswordlessStep {
  /** A challenge for whoever answers it: no account is known yet. */
  start(now: number): Promise<ChallengeStart>;
  /** The account the response says it comes from (nothing is verified yet); undefined when it names no account. */
  identify(response: unknown): Promise<{ accountId: string; organizationId: string } | undefined>;
}

/** What starting a challenge gives: data for the client, and state the server keeps until `verify`. */
export interface ChallengeStart {
  /** Sent to the client (for WebAuthn, the request options). */
  shown: Record<string, unknown>;
  /** JSON-serialisable; kept in the login transaction, never sent; `verify` gets it as `ctx.challenge`. */
  state: unknown;
}

export interface ChallengeStep {
  /**
   * A new challenge for this login; a second start replaces the first, so only the latest can be
   * answered. `input` is the start request's body (which destination a code goes to), unvalidated.
   */
  start(ctx: FactorContext, input?: unknown): Promise<ChallengeStart>;
  /**
   * `once` (the default): the state is taken by the first answer, right or wrong. `until_verified`:
   * it stays until a right answer or a new start, and the method itself limits the tries on it
   * (a code sent by SMS: five tries per code).
   */
  readonly answered?: 'once' | 'until_verified';
  /**
   * For a challenge answered elsewhere (a prompt approved on a device; with `until_verified`): what
   * to tell the login while the answer is not in (`{status: 'pending'}`, `{status: 'expired'}`), or
   * undefined once it is and `verify` should judge it. Polling it counts no attempt and reserves,
   * consumes or changes nothing.
   */
  waiting?(ctx: FactorContext): Promise<Record<string, unknown> | undefined>;
}

/**
 * The account's own management of a method, mounted under /api/v1/mfa/{manage path} with the rules
 * every method shares (a fresh second factor, the method allowed by policy, a rate limit on codes,
 * audit, trusted devices and other sessions ended after a change).
 */
export interface SelfService {
  /** The method's entry in GET /api/v1/mfa is under this key; GET /api/v1/mfa/{manage} answers it alone. */
  readonly summaryKey: string;
  /** That entry; `active` is how many active credentials of the method the account has. */
  status(accountId: string, active: number): Promise<Record<string, unknown>>;
  /**
   * With it, POST /mfa/{manage}/enroll starts the method's `enrolment` and answers with this view of
   * it, and POST /mfa/{manage}/confirm completes it with a first valid code.
   */
  enrolmentBody?(start: EnrolmentStart): Record<string, unknown>;
  /** With it, POST /mfa/{manage} sets the method up in one step, replacing what the account had of it. */
  issue?(accountId: string): Promise<Issued>;
  /** The enrolment routes' segments under /mfa/{manage}, when not `enroll` and `confirm`. */
  readonly enrolmentPaths?: { readonly begin: string; readonly confirm: string };
  /** A method the account holds several named credentials of: each is listed, renamed and removed on its own. */
  readonly credentials?: CredentialManagement;
  /**
   * With it, PUT /mfa/{manage} sets the method up from what the user chose (the request body,
   * unvalidated: the method validates it), replacing what the account had of it.
   */
  set?(accountId: string, input: unknown): Promise<Issued>;
  /** The method's entry (`status`) is also answered to administrators at GET /api/v1/users/{id}/{manage}. */
  readonly shownToAdmins?: boolean;
}

/** The credentials of one method, under /mfa/{collection} and /mfa/{collection}/{id}. */
export interface CredentialManagement {
  readonly collection: string;
  list(accountId: string): Promise<Record<string, unknown>[]>;
  /** The credential's new view; undefined when the account has no such credential. */
  rename(accountId: string, id: string, name: string): Promise<Record<string, unknown> | undefined>;
  /** False when the account has no such credential. */
  remove(accountId: string, id: string): Promise<boolean>;
}

/** A method set up in one step: what the user is shown once, and how the audit trail names the change. */
export interface Issued {
  shown: Record<string, unknown>;
  audit: { type: string; data: Record<string, unknown> };
}

/** What a pending enrolment shows the user to set up their authenticator. */
export interface EnrolmentStart {
  /** The pending credential: a reload of the same login shows it again rather than a new one. */
  credentialId: string;
  /** As the login's JSON API shows it (snake_case); the enrolment page gets it as `it.enrollment`. */
  shown: Record<string, unknown>;
}

/** Setting a method up: a pending credential, confirmed by a first valid response. */
export interface Enrolment {
  /**
   * Starts an enrolment; with `resume`, that pending credential is shown again while it is still the
   * pending one. `binding` names who asked (a session, a login): only the same one can confirm.
   */
  begin(accountId: string, label: string, issuer: string, resume?: string, binding?: string): Promise<EnrolmentStart>;
  /** Completes the pending enrolment; throws FactorError when none is pending (for this `binding`) or the response is wrong. */
  confirm(accountId: string, response: unknown, binding?: string): Promise<AuthEvent>;
  /** The enrolment page's content: an Eta template (autoescaped) given `it.enrollment`, `it.uid`, `it.csrf`. */
  readonly view: string;
}

/** The event a verified credential of this method earns. */
export const eventOf = (d: FactorDescriptor, at: number, credentialId: string, own: Pick<AuthEvent, 'amr' | 'aal' | 'multiFactor'> = {}): AuthEvent => ({
  factor: d.method,
  at,
  credentialId,
  secondFactor: d.secondFactor,
  phishingResistant: d.phishingResistant,
  aal: d.aal,
  ...own,
});

/**
 * A second-factor response refused: `invalid_code` for a wrong one (its message, which may say why,
 * goes to the log only: every wrong response is answered alike), `invalid_request` for a value that
 * is not a response of the method's form at all (`malformed`, about the code field) or that the
 * method refuses for a reason the user can act on (`refused`, said as given: a registration the
 * policy does not allow).
 */
export class FactorError extends IdpError {
  constructor(kind: 'invalid_code' | 'malformed' | 'refused', message = 'the code is not valid') {
    if (kind === 'malformed') super('invalid_request', `code: ${message}`);
    else if (kind === 'refused') super('invalid_request', message);
    else super('invalid_code', 'the code is not valid', { detail: { reason: message } });
  }
}
