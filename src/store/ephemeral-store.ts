import type { AccountView } from './repositories/account.repository.js';

/**
 * Short-lived state whose loss only makes a user retry (challenges, rate-limit windows).
 * Redis in production; the SQL database when no Redis is configured.
 */
export interface EphemeralStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSec: number): Promise<void>;
  /** Atomic read-and-delete: of concurrent callers exactly one gets the value. */
  take(key: string): Promise<string | undefined>;
  del(key: string): Promise<void>;
  /** Fixed-window counter: the window (TTL) starts with the first increment. */
  increment(key: string, windowSec: number): Promise<number>;
  ping(): Promise<void>;
}

export type OidcPayload = Record<string, unknown>;

/**
 * The models `revokeByGrantId` removes: the credentials a grant issued. An Interaction or Session
 * may name a grant too, but revoking the grant must not end a login in progress (switching
 * account ends the previous account's session, and its grant, half-way through the new login).
 */
export const GRANT_BOUND_MODELS: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/**
 * Payload field, written by the adapter on entries that name a grant, holding the grant's stored id
 * (the keyed hash of its id), so a store can read the grant in the same round trip as the entry.
 */
export const GRANT_REF = 'grantRef';

/**
 * Payload field, written by the adapter on entries that carry an authentication (`authTime`,
 * `amr`), holding the `amr` part of its authentication record's key, so a store can read the
 * record (`authn_states`) in the same round trip as the entry.
 */
export const AUTHN_REF = 'authnRef';

/** What an entry names that the engine reads right after it. */
export interface PayloadLinks {
  sessionUid?: string;
  grantRef?: string;
  accountId?: string;
  authn?: { authTime: number; amr: string };
}

export function linksOf(entry: OidcPayload): PayloadLinks {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const { authTime, [AUTHN_REF]: amr } = entry;
  return {
    sessionUid: str(entry.sessionUid),
    grantRef: str(entry[GRANT_REF]),
    accountId: str(entry.accountId),
    ...(Number.isSafeInteger(authTime) && typeof amr === 'string' ? { authn: { authTime: authTime as number, amr } } : {}),
  };
}

/**
 * The Session (by `sessionUid`), Grant (by `GRANT_REF`), account (by `accountId`) and whether the
 * authentication record (by account, `authTime`, `AUTHN_REF`) is a step-up, for the links named;
 * `null`: named, but absent.
 */
export interface Linked {
  session?: OidcPayload | null;
  grant?: OidcPayload | null;
  account?: AccountView | null;
  stepUp?: boolean | null;
}

/** An entry with what it links to. */
export interface LinkedPayloads extends Linked {
  entry: OidcPayload | undefined;
}

/** Storage behind oidc-provider's adapter, one implementation per engine; `model` is the provider's model name. */
export interface OidcPayloadStore {
  upsert(model: string, id: string, payload: OidcPayload, expiresInSec?: number): Promise<void>;
  find(model: string, id: string): Promise<OidcPayload | undefined>;
  findByUid(model: string, uid: string): Promise<OidcPayload | undefined>;
  findByUserCode(model: string, userCode: string): Promise<OidcPayload | undefined>;
  /** `find`, plus the entries it links to in the same round trip; engines that cannot, leave it out. */
  findLinked?(model: string, id: string): Promise<LinkedPayloads>;
  /** What `findLinked` adds to an entry, for an entry read from another store. */
  findLinks?(links: PayloadLinks): Promise<Linked>;
  /** Marks the entry consumed; true only for the one caller that did so (the others lost a race). */
  consume(model: string, id: string): Promise<boolean>;
  /**
   * `consume(model, consumedId)` and, only if it won, `upsert(model, id, …)`, in one round trip;
   * engines that cannot, leave it out.
   */
  consumeAndUpsert?(model: string, consumedId: string, id: string, payload: OidcPayload, expiresInSec?: number): Promise<boolean>;
  /** Takes back a `consume` whose request failed before anyone saw its outcome. */
  unconsume(model: string, id: string): Promise<void>;
  destroy(model: string, id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}
