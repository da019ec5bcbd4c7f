import { AsyncLocalStorage } from 'node:async_hooks';
import { errors, type Adapter, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import { hmac, type SecretBox } from '../lib/crypto.js';
import { AUTHN_REF, GRANT_REF, linksOf, type LinkedPayloads, type OidcPayload, type OidcPayloadStore } from '../store/ephemeral-store.js';
import type { AccountView } from '../store/repositories/account.repository.js';
import { amrKey, authnKeyOf, authnKeyString, type AuthnKey } from '../store/repositories/authn-state.repository.js';
import type { ClientCache } from './client-cache.js';
import { guard } from './unavailable.js';

/** Models whose loss would sign users out or reopen a replay window: always PostgreSQL. */
const DURABLE = new Set(['Session', 'Grant', 'RefreshToken']);

/**
 * Payload fields, besides `jti` and `userCode`, that hold a bearer value: an Interaction keeps
 * the session cookie's value (`session.cookie`), its own id in `returnTo`, and the ids of the
 * device code and pushed request it belongs to; a pre-authorized code keeps its transaction code.
 * Sealed at rest, opened on read. The other fields name things without granting them (a session's
 * `uid` and `sid`s, grant ids, client ids), so they stay queryable.
 */
const SEALED_FIELDS: Record<string, readonly string[]> = {
  Interaction: ['session', 'returnTo', 'deviceCode', 'parJti'],
  PreAuthorizedCode: ['txCode'],
};
const SEALED = 'sealed';

/** Credentials issued by a request: nobody holds them when the request fails, so they can go. */
const ISSUED = new Set(['AccessToken', 'RefreshToken', 'ClientCredentials', 'AuthorizationCode']);

/**
 * Models whose `find` is followed, in the same request, by the engine reading the Session, Grant,
 * account and authentication record they name (a refresh or code exchange: session binding, grant
 * validation, `findAccount`, then the step-up lookup). They carry their grant's stored id and their
 * record's `amr` key, so a store can read all five at once.
 */
const READ_AHEAD = new Set(['RefreshToken', 'AuthorizationCode']);

/**
 * Models whose `consume` the engine follows, in the same request, by saving their successor
 * (refresh token rotation, always on: provider.ts): a store that can, does both in one statement.
 */
const CONSUMED_WITH_SUCCESSOR = new Set(['RefreshToken']);

export interface AdapterDeps {
  durable: OidcPayloadStore;
  shortLived: OidcPayloadStore;
  clients: Pick<ClientCache, 'metadata'>;
  /** Key of the keyed hash under which ids and user codes are stored. */
  idKey: string;
  box: SecretBox;
}

type Next = () => Promise<unknown>;

export type AdapterClass = (new (model: string) => Adapter) & {
  /**
   * Provider middleware: a request that answers 503 leaves no durable change. A store that fails
   * half-way through a token request (the refresh token consumed and its successor saved in
   * PostgreSQL, the access token refused by Redis) would otherwise turn the client's retry into
   * a detected reuse and revoke the grant (RFC 9700 §4.14.2).
   */
  undoOnOutage(ctx: KoaContextWithOIDC, next: Next): Promise<void>;
  /**
   * The account a token found in this request names, when the store read it with the token
   * (`account` undefined: no such account); undefined when it did not. Served once.
   */
  takeAccount(id: string): { account: AccountView | undefined } | undefined;
  /** Likewise whether the authentication record `key` is a step-up (`stepUp` undefined: no such record). */
  takeStepUp(key: AuthnKey): { stepUp: boolean | undefined } | undefined;
};

type Undo = () => Promise<unknown>;

/**
 * What one provider request holds: the undo journal, and entries and accounts read ahead of the
 * engine asking for them (`null`: known absent). Each serves one lookup; any write in the request
 * drops them all, so none is served after the request changed the store.
 */
interface RequestScope {
  undo: Undo[];
  ahead: Map<string, OidcPayload | null>;
  accounts: Map<string, AccountView | null>;
  stepUps: Map<string, boolean | null>;
  /** A consume held back to go out with the successor's save (stored id). */
  consuming?: { model: string; k: string };
}
const NOT_AHEAD = Symbol('not read ahead');

export function createAdapterClass(deps: AdapterDeps): AdapterClass {
  const stores = deps.durable === deps.shortLived ? [deps.durable] : [deps.durable, deps.shortLived];
  const revokeGrant = (grantId: string) => Promise.all(stores.map((s) => s.revokeByGrantId(grantId)));
  const scopes = new AsyncLocalStorage<RequestScope>();
  const record = (undo: Undo) => scopes.getStore()?.undo.push(undo);
  const forgetAhead = () => {
    const scope = scopes.getStore();
    scope?.ahead.clear();
    scope?.accounts.clear();
    scope?.stepUps.clear();
  };
  const takeOnce = <V>(map: Map<string, V | null> | undefined, slot: string): { value: V | undefined } | undefined => {
    if (!map?.has(slot)) return undefined;
    const value = map.get(slot) ?? undefined;
    map.delete(slot);
    return { value };
  };
  const takeAhead = (slot: string): OidcPayload | undefined | typeof NOT_AHEAD => {
    const ahead = scopes.getStore()?.ahead;
    if (!ahead?.has(slot)) return NOT_AHEAD;
    const value = ahead.get(slot);
    ahead.delete(slot);
    return value ?? undefined;
  };
  const slotOf = (model: string, id: string) => `${model} id ${id}`;
  const uidSlotOf = (model: string, uid: string) => `${model} uid ${uid}`;

  /*
   * A copy of the stores must not be a working set of tokens (RFC 6819, "No Cleartext Storage of
   * Credentials"): ids and user codes are stored as a keyed hash (HMAC-SHA-256), looked up by the same.
   */
  const key = (value: string) => hmac(deps.idKey, value);

  /**
   * `jti` is the id itself: dropped, and restored from the id on `find`. Entries also found by
   * `uid` or `userCode` need it back without the id, so there it is sealed with the other fields
   * that repeat a bearer value. The stored `userCode` is its hash, which the store indexes.
   */
  function encode(model: string, payload: OidcPayload): OidcPayload {
    const { jti, ...stored } = payload;
    const secret: OidcPayload = {};
    if (jti !== undefined && (typeof stored.uid === 'string' || typeof stored.userCode === 'string')) secret.jti = jti;
    for (const field of SEALED_FIELDS[model] ?? []) {
      if (stored[field] === undefined) continue;
      secret[field] = stored[field];
      delete stored[field];
    }
    if (typeof stored.userCode === 'string') {
      secret.userCode = stored.userCode;
      stored.userCode = key(stored.userCode);
    }
    if (Object.keys(secret).length) stored[SEALED] = deps.box.seal(JSON.stringify(secret));
    if (READ_AHEAD.has(model)) {
      if (typeof stored.grantId === 'string') stored[GRANT_REF] = key(stored.grantId);
      if (Array.isArray(stored.amr)) stored[AUTHN_REF] = amrKey(stored.amr as string[]);
    }
    return stored;
  }

  /** An entry whose sealed part does not open (altered, or sealed under another key) is absent. */
  function decode(stored: OidcPayload | undefined, id?: string): AdapterPayload | undefined {
    if (!stored) return undefined;
    const { [SEALED]: sealed, ...payload } = stored;
    delete payload[GRANT_REF];
    delete payload[AUTHN_REF];
    if (typeof sealed === 'string') {
      try {
        Object.assign(payload, JSON.parse(deps.box.open(sealed)) as OidcPayload);
      } catch {
        return undefined;
      }
    }
    if (id !== undefined) payload.jti = id;
    return payload;
  }

  const storeOf = (model: string) => (DURABLE.has(model) ? deps.durable : deps.shortLived);

  /** The loser of a race to consume: a reuse, so the grant is revoked (RFC 9700 §4.14.2). */
  async function lostConsume(store: OidcPayloadStore, model: string, k: string): Promise<never> {
    forgetAhead();
    const payload = await guard(() => store.find(model, k));
    if (typeof payload?.grantId === 'string') await guard(() => revokeGrant(payload.grantId as string));
    throw new errors.InvalidGrant(`${model} already consumed`);
  }

  async function consumeNow(model: string, k: string): Promise<void> {
    const store = storeOf(model);
    // Consuming changes only this entry, which is never read ahead: what was read with it still holds.
    const won = await guard(() => store.consume(model, k));
    if (!won) return lostConsume(store, model, k);
    record(() => store.unconsume(model, k));
  }

  return class StoreAdapter implements Adapter {
    private readonly store: OidcPayloadStore;

    constructor(readonly model: string) {
      this.store = storeOf(model);
    }

    static async undoOnOutage(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
      const undo: Undo[] = [];
      const scope: RequestScope = { undo, ahead: new Map(), accounts: new Map(), stepUps: new Map() };
      await scopes.run(scope, next);
      // No successor was saved (the request failed on the way): the token is still spent, as it would have been at once.
      if (scope.consuming) await scopes.run(scope, () => consumeNow(scope.consuming!.model, scope.consuming!.k)).catch(() => undefined);
      if (ctx.status !== 503 || !undo.length) return;
      // Newest first; a store still down leaves its part as it is (no worse than before).
      for (const step of undo.reverse()) await step().catch(() => undefined);
    }

    static takeAccount(id: string): { account: AccountView | undefined } | undefined {
      const taken = takeOnce(scopes.getStore()?.accounts, id);
      return taken && { account: taken.value };
    }

    static takeStepUp(key: AuthnKey): { stepUp: boolean | undefined } | undefined {
      const taken = takeOnce(scopes.getStore()?.stepUps, authnKeyString(key));
      return taken && { stepUp: taken.value };
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.model === 'Client') throw new Error('clients are managed through the admin API');
      const k = key(id);
      forgetAhead();
      const scope = scopes.getStore();
      const consuming = scope?.consuming?.model === this.model ? scope.consuming : undefined;
      const stored = encode(this.model, payload);
      if (consuming && this.store.consumeAndUpsert) {
        scope!.consuming = undefined;
        const won = await guard(() => this.store.consumeAndUpsert!(this.model, consuming.k, k, stored, expiresIn));
        if (!won) return lostConsume(this.store, this.model, consuming.k);
        record(() => this.store.unconsume(this.model, consuming.k));
      } else {
        await guard(() => this.store.upsert(this.model, k, stored, expiresIn));
      }
      if (ISSUED.has(this.model)) record(() => this.store.destroy(this.model, k));
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') {
        return guard(() => deps.clients.metadata(id));
      }
      const k = key(id);
      const ahead = takeAhead(slotOf(this.model, k));
      if (ahead !== NOT_AHEAD) return decode(ahead, id);
      const scope = scopes.getStore();
      if (!scope || !READ_AHEAD.has(this.model)) return decode(await guard(() => this.store.find(this.model, k)), id);
      const linked = await guard(() => this.findLinked(k));
      const links = linked.entry ? linksOf(linked.entry) : {};
      if (linked.session !== undefined) scope.ahead.set(uidSlotOf('Session', links.sessionUid!), linked.session);
      if (linked.grant !== undefined) scope.ahead.set(slotOf('Grant', links.grantRef!), linked.grant);
      if (linked.account !== undefined) scope.accounts.set(links.accountId!, linked.account);
      if (linked.stepUp !== undefined) {
        const { authTime, amr } = links.authn!;
        scope.stepUps.set(authnKeyOf(links.accountId!, authTime, amr), linked.stepUp);
      }
      return decode(linked.entry, id);
    }

    /**
     * The entry and what it links to. Sessions, grants, accounts and authentication records are
     * durable: read with the entry when it is durable too, else right after it from the durable store.
     */
    private async findLinked(k: string): Promise<LinkedPayloads> {
      if (this.store.findLinked) return this.store.findLinked(this.model, k);
      const entry = await this.store.find(this.model, k);
      if (!entry || !deps.durable.findLinks) return { entry };
      return { entry, ...(await deps.durable.findLinks(linksOf(entry))) };
    }

    async findByUid(uid: string) {
      const ahead = takeAhead(uidSlotOf(this.model, uid));
      if (ahead !== NOT_AHEAD) return decode(ahead);
      return decode(await guard(() => this.store.findByUid(this.model, uid)));
    }

    async findByUserCode(userCode: string) {
      return decode(await guard(() => this.store.findByUserCode(this.model, key(userCode))));
    }

    /**
     * The provider reads `consumed` and then calls this, so two concurrent redemptions would both
     * pass its check. Here only one wins; the loser is treated as a reuse: the grant is revoked.
     */
    async consume(id: string): Promise<void> {
      const k = key(id);
      const scope = scopes.getStore();
      // Decided by the successor's save, which then fails the request the same way a lost consume here would.
      if (scope && !scope.consuming && CONSUMED_WITH_SUCCESSOR.has(this.model) && this.store.consumeAndUpsert) {
        scope.consuming = { model: this.model, k };
        return;
      }
      await consumeNow(this.model, k);
    }

    async destroy(id: string): Promise<void> {
      forgetAhead();
      await guard(() => this.store.destroy(this.model, key(id)));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      forgetAhead();
      await guard(() => revokeGrant(grantId));
    }
  };
}
