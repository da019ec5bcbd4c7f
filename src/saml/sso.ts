import type { AuditService } from '../audit/audit.service.js';
import type { HttpExchange, LoginProtocol, LoginRequest } from '../authn/login-request.js';
import type { MfaService } from '../authn/mfa.service.js';
import type { SsoSession, SsoSessions } from '../authn/sso-session.js';
import type { Clock } from '../lib/clock.js';
import { hmac, randomToken } from '../lib/crypto.js';
import { IdpError, badRequest } from '../lib/errors.js';
import type { EphemeralStore } from '../store/ephemeral-store.js';
import type { User } from '../store/database.js';
import type { SamlServiceProvider, SamlServiceProviderRepository } from '../store/repositories/saml-service-provider.repository.js';
import type { SamlSessionRepository } from '../store/repositories/saml-session.repository.js';
import { createBrowserKey, sameHash } from './browser-key.js';
import { AuthnRequestError, type AuthnRequestReader, type IncomingAuthnRequest } from './authn-request.js';
import { contextRequirement, type RequestedContexts } from './authn-context.js';
import { samlEndpoints } from './identity-provider.js';
import { samlUserOf, type SamlResponder } from './response.js';

const HTTP_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
/** How long a finished login's form waits for the browser to fetch it (it is fetched right after the redirect). */
const POST_FORM_TTL_SEC = 120;

/** The HTTP-POST binding's form: what the browser posts to the SP's ACS. */
export interface PostForm {
  acsUrl: string;
  samlResponse: string;
  relayState?: string;
}

/** What an SSO request leads to: a response the browser posts at once, or a login first. */
export type SsoStep = { kind: 'respond'; form: PostForm } | { kind: 'login'; uid: string };

/** The request's facts; the audit takes the IP and request id from the request scope when they are left out. */
export interface SsoMeta {
  ip?: string;
  requestId?: string;
  deviceToken?: string;
}

/** A login a SAML request started, kept server-side under the login's uid until it finishes. */
interface SamlLogin {
  /** Keyed hash of the browser's key. */
  browser: string;
  spId: string;
  /** The AuthnRequest's ID; absent for an IdP-initiated login. */
  requestId?: string;
  acsUrl: string;
  relayState?: string;
  contexts?: RequestedContexts;
  /** The signed-in session this login only has to raise (a stronger context asked); absent for a full login. */
  session?: { accountId: string; uid: string; authTime: number; amr?: string[] };
}

/** What a response is built from, whichever way the SSO came. */
interface Asked {
  sp: SamlServiceProvider;
  acsUrl: string;
  requestId?: string;
  relayState?: string;
  contexts?: RequestedContexts;
  forceAuthn: boolean;
  isPassive: boolean;
}

export interface SamlSsoDeps {
  readAuthnRequest: AuthnRequestReader;
  responses: SamlResponder;
  serviceProviders: Pick<SamlServiceProviderRepository, 'find' | 'findByEntityId'>;
  participants: Pick<SamlSessionRepository, 'record'>;
  sessions: SsoSessions;
  accounts: { findById(id: string): Promise<User | undefined> };
  mfa: Pick<MfaService, 'sessionSatisfies'>;
  ephemeral: EphemeralStore;
  audit: AuditService;
  clock: Clock;
  box: { seal(plaintext: string): string };
  idKey: string;
  issuer: string;
  loginTtlSeconds: number;
}

/**
 * SAML single sign-on on the protocol-neutral login: an SSO request with a live session that
 * satisfies the SP's policy and requested context is answered at once; otherwise a login is
 * started (`/interaction/{uid}`: the same pages, MFA, step-up and trusted devices as OIDC) and this
 * protocol's finisher records it in the one SSO session and posts the response to the ACS.
 */
export function createSamlSso(deps: SamlSsoDeps) {
  const { ephemeral, audit } = deps;
  const urls = samlEndpoints(deps.issuer);
  const loginKey = (uid: string) => `saml:login:${hmac(deps.idKey, uid)}`;
  const formKey = (uid: string) => `saml:form:${hmac(deps.idKey, uid)}`;
  const continueKey = (token: string) => `saml:continue:${hmac(deps.idKey, token)}`;
  const indexKey = hmac(deps.idKey, 'saml-session-index-v1');

  const browserOf = createBrowserKey(deps);

  const audience = (sp: SamlServiceProvider, meta: SsoMeta, subject?: string) => ({
    subject,
    organizationId: sp.organizationId,
    ip: meta.ip,
    requestId: meta.requestId,
    clientId: sp.entityId,
  });

  async function refuse(asked: Asked, status: 'NoAuthnContext' | 'AuthnFailed' | 'NoPassive', meta: SsoMeta, subject?: string): Promise<PostForm> {
    const message = deps.responses.status({ sp: asked.sp, acsUrl: asked.acsUrl, inResponseTo: asked.requestId, status });
    await audit.record({ type: 'saml.sso.refused', outcome: 'failure', ...audience(asked.sp, meta, subject), data: { sp: asked.sp.entityId, status } });
    return { acsUrl: asked.acsUrl, samlResponse: message.samlResponse, ...(asked.relayState !== undefined ? { relayState: asked.relayState } : {}) };
  }

  /** The signed assertion of this session for the SP; the SP joins the session's participants (single logout tells it). */
  async function respond(asked: Asked, user: User, session: SsoSession, contextClass: string, meta: SsoMeta, reused: boolean): Promise<PostForm> {
    const { sp } = asked;
    // One SessionIndex per session and SP, opaque and unlinkable across SPs (SAML 2.0 Core §2.7.2).
    const sessionIndex = `_${hmac(indexKey, `${session.uid}\n${sp.id}`).slice(0, 32)}`;
    const acr = session.acr === 'aal2' || session.acr === 'aal3' ? session.acr : 'aal1';
    const message = await deps.responses.login({
      sp,
      acsUrl: asked.acsUrl,
      inResponseTo: asked.requestId,
      user: samlUserOf(user),
      authn: { authTime: session.authTime, acr, contextClass },
      sessionIndex,
      sessionNotOnOrAfter: session.endsAt,
    });
    await deps.participants.record({
      sessionKey: hmac(deps.idKey, session.uid),
      spId: sp.id,
      sessionUidSealed: deps.box.seal(session.uid),
      accountId: user.id,
      sessionIndex,
      nameId: message.nameId.value,
      nameIdFormat: message.nameId.format,
      expiresAt: new Date(session.endsAt * 1000),
    });
    await audit.record({
      type: 'saml.sso.succeeded',
      outcome: 'success',
      ...audience(sp, meta, user.id),
      data: { sp: sp.entityId, initiated_by: asked.requestId === undefined ? 'idp' : 'sp', context_class: contextClass, session_reused: reused },
    });
    return { acsUrl: asked.acsUrl, samlResponse: message.samlResponse, ...(asked.relayState !== undefined ? { relayState: asked.relayState } : {}) };
  }

  const enabledSp = async (id: string) => {
    const sp = await deps.serviceProviders.find(id);
    return sp?.enabled ? sp : undefined;
  };

  const activeUser = async (accountId: string) => {
    const user = await deps.accounts.findById(accountId);
    return user?.status === 'active' ? user : undefined;
  };

  async function proceed(http: HttpExchange, asked: Asked, meta: SsoMeta): Promise<SsoStep> {
    const requirement = contextRequirement(asked.contexts);
    if (!requirement) return { kind: 'respond', form: await refuse(asked, 'NoAuthnContext', meta) };
    // ForceAuthn: the user authenticates again, whatever session the browser has (SAML 2.0 Core §3.4.1).
    const session = asked.forceAuthn ? undefined : await deps.sessions.current(http);
    const user = session && (await activeUser(session.accountId));
    if (session && user) {
      const satisfied = await deps.mfa.sessionSatisfies({
        accountId: session.accountId,
        authTime: session.authTime,
        amr: session.amr,
        clientId: asked.sp.entityId,
        requestedAal: requirement.requiredAal,
        deviceToken: meta.deviceToken,
        ip: meta.ip,
      });
      if (satisfied) return { kind: 'respond', form: await respond(asked, user, session, requirement.classFor(session.acr), meta, true) };
    }
    if (asked.isPassive) return { kind: 'respond', form: await refuse(asked, 'NoPassive', meta, user?.id) };
    const uid = randomToken(24);
    const login: SamlLogin = {
      browser: browserOf(http, true)!,
      spId: asked.sp.id,
      acsUrl: asked.acsUrl,
      ...(asked.requestId !== undefined ? { requestId: asked.requestId } : {}),
      ...(asked.relayState !== undefined ? { relayState: asked.relayState } : {}),
      ...(asked.contexts ? { contexts: asked.contexts } : {}),
      // A live session of an active account that falls short is raised (MFA alone); otherwise a full login.
      ...(session && user ? { session: { accountId: session.accountId, uid: session.uid, authTime: session.authTime, amr: session.amr } } : {}),
    };
    await ephemeral.set(loginKey(uid), JSON.stringify(login), deps.loginTtlSeconds);
    return { kind: 'login', uid };
  }

  async function loadLogin(http: HttpExchange, uid: string): Promise<SamlLogin | undefined> {
    const raw = await ephemeral.get(loginKey(uid));
    if (!raw) return undefined;
    const login = JSON.parse(raw) as SamlLogin;
    const browser = browserOf(http, false);
    return browser && sameHash(browser, login.browser) ? login : undefined;
  }

  /** Ends a login once: of concurrent finishes, aborts and resubmissions only one gets it. */
  async function takeLogin(http: HttpExchange, uid: string): Promise<{ login: SamlLogin; sp: SamlServiceProvider }> {
    const login = await loadLogin(http, uid);
    if (!login || !(await ephemeral.take(loginKey(uid)))) throw new IdpError('invalid_step', 'this sign-in has already ended');
    const sp = await enabledSp(login.spId);
    if (!sp) throw badRequest('the service provider of this sign-in is no longer registered or is disabled');
    return { login, sp };
  }

  const askedOf = (login: SamlLogin, sp: SamlServiceProvider): Asked => ({
    sp,
    acsUrl: login.acsUrl,
    requestId: login.requestId,
    relayState: login.relayState,
    contexts: login.contexts,
    forceAuthn: false,
    isPassive: false,
  });

  /** The form waits server-side for the browser the login ran in; returns the URL that hands it over. */
  async function keepForm(uid: string, login: SamlLogin, form: PostForm): Promise<string> {
    await ephemeral.set(formKey(uid), JSON.stringify({ browser: login.browser, form }), POST_FORM_TTL_SEC);
    return `${urls.sso}/post/${uid}`;
  }

  const protocol: LoginProtocol = {
    origin: 'saml',

    async load(http, uid) {
      const login = await loadLogin(http, uid);
      if (!login) return undefined;
      const sp = await enabledSp(login.spId);
      if (!sp) return undefined;
      const requirement = contextRequirement(login.contexts);
      return {
        uid,
        origin: 'saml',
        clientId: sp.entityId,
        prompt: 'login',
        ...(login.session ? { session: { accountId: login.session.accountId, uid: login.session.uid } } : {}),
        stepUp: login.session !== undefined,
        ...(requirement?.requiredAal ? { requestedAal: requirement.requiredAal } : {}),
        formTargets: [login.acsUrl],
        scopes: [],
      } satisfies LoginRequest;
    },

    async sessionFacts(request) {
      const login = await ephemeral.get(loginKey(request.uid));
      const session = login ? (JSON.parse(login) as SamlLogin).session : undefined;
      return { authTime: session?.authTime ?? 0, amr: session?.amr };
    },

    async finish(http, request, result) {
      const { login, sp } = await takeLogin(http, request.uid);
      const user = await activeUser(result.accountId);
      if (!user) throw badRequest('the account is no longer available');
      const session = await deps.sessions.signIn(http, result);
      const requirement = contextRequirement(login.contexts);
      if (!requirement) throw badRequest('the requested authentication context cannot be met');
      const form = await respond(askedOf(login, sp), user, session, requirement.classFor(result.acr), {}, false);
      return keepForm(request.uid, login, form);
    },

    consent() {
      return Promise.reject(new IdpError('invalid_step', 'a SAML sign-in asks no consent'));
    },

    async abort(http, request, reason) {
      const { login, sp } = await takeLogin(http, request.uid);
      const form = await refuse(askedOf(login, sp), reason ? 'NoAuthnContext' : 'AuthnFailed', {}, login.session?.accountId);
      return keepForm(request.uid, login, form);
    },
  };

  /** Every SSO request refused before any response is built leaves this one event, with the reason. */
  const recordRefusal = (meta: SsoMeta, reason: string) =>
    audit.record({ type: 'saml.request.refused', outcome: 'failure', ip: meta.ip, requestId: meta.requestId, data: { reason } });

  async function read(incoming: IncomingAuthnRequest, meta: SsoMeta): Promise<Asked> {
    try {
      const request = await deps.readAuthnRequest(incoming);
      return {
        sp: request.sp,
        acsUrl: request.acsUrl,
        requestId: request.id,
        ...(request.relayState !== undefined ? { relayState: request.relayState } : {}),
        ...(request.requestedContexts ? { contexts: request.requestedContexts } : {}),
        forceAuthn: request.forceAuthn,
        isPassive: request.isPassive,
      };
    } catch (err) {
      if (err instanceof AuthnRequestError) await recordRefusal(meta, err.reason);
      throw err;
    }
  }

  return {
    protocol,

    /** A request whose parameters are not even of the binding's shape (repeated, too long): audited like any refused one. */
    refusedShape: (meta: SsoMeta) => recordRefusal(meta, 'malformed'),

    /** An AuthnRequest at the SSO endpoint's HTTP-Redirect binding. A refused request is audited and throws: no response goes anywhere. */
    async authnRequest(http: HttpExchange, incoming: IncomingAuthnRequest, meta: SsoMeta): Promise<SsoStep> {
      return proceed(http, await read(incoming, meta), meta);
    },

    /**
     * An AuthnRequest at the HTTP-POST binding. It arrives as a cross-site POST, which carries no
     * SameSite cookie: the request is read and checked now, and the browser continues with a GET
     * (`continueAfterPost`), which carries its session cookie.
     */
    async authnRequestPosted(incoming: IncomingAuthnRequest, meta: SsoMeta): Promise<string> {
      const { sp, ...asked } = await read(incoming, meta);
      const token = randomToken(24);
      await ephemeral.set(continueKey(token), JSON.stringify({ ...asked, spId: sp.id }), POST_FORM_TTL_SEC);
      return `${urls.sso}/continue/${token}`;
    },

    async continueAfterPost(http: HttpExchange, token: string, meta: SsoMeta): Promise<SsoStep> {
      const raw = await ephemeral.take(continueKey(token));
      const kept = raw ? (JSON.parse(raw) as Omit<Asked, 'sp'> & { spId: string }) : undefined;
      const sp = kept && (await enabledSp(kept.spId));
      if (!kept || !sp) throw new IdpError('invalid_step', 'this sign-in request has already been used or has expired');
      return proceed(http, { ...kept, sp }, meta);
    },

    /** An unsolicited response to the SP (IdP-initiated SSO), after a login when the browser has no session. */
    async idpInitiated(http: HttpExchange, entityId: string, relayState: string | undefined, meta: SsoMeta): Promise<SsoStep> {
      const found = await deps.serviceProviders.findByEntityId(entityId);
      const sp = found?.enabled ? found : undefined;
      const acs = sp && (sp.acsEndpoints.find((e) => e.binding === HTTP_POST && e.isDefault) ?? sp.acsEndpoints.find((e) => e.binding === HTTP_POST));
      if (!sp || !acs) {
        await recordRefusal(meta, 'unknown_service_provider');
        throw badRequest('no enabled service provider with an HTTP-POST AssertionConsumerService is registered under that entity ID');
      }
      return proceed(http, { sp, acsUrl: acs.location, ...(relayState !== undefined ? { relayState } : {}), forceAuthn: false, isPassive: false }, meta);
    },

    /** The finished login's form, handed once to the browser the login ran in. */
    async takeForm(http: HttpExchange, uid: string): Promise<PostForm> {
      // Checked before it is taken: another browser's attempt must not use up the owner's form.
      const browser = browserOf(http, false);
      const owned = (raw: string | undefined) => {
        const kept = raw ? (JSON.parse(raw) as { browser: string; form: PostForm }) : undefined;
        return kept && browser && sameHash(browser, kept.browser) ? kept.form : undefined;
      };
      const form = owned(await ephemeral.get(formKey(uid))) && owned(await ephemeral.take(formKey(uid)));
      if (!form) throw new IdpError('invalid_step', 'this sign-in has already ended');
      return form;
    },
  };
}

export type SamlSso = ReturnType<typeof createSamlSso>;
