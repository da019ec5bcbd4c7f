import samlify from 'samlify';
import type { Clock } from '../lib/clock.js';
import { hmac, randomToken } from '../lib/crypto.js';
import type { User } from '../store/database.js';
import type { SamlServiceProvider } from '../store/repositories/saml-service-provider.repository.js';
import { earnedClass } from './authn-context.js';
import type { SamlIdp, SamlIdpHolder } from './identity-provider.js';
import { nameIdFor } from './name-id.js';
import { signEnveloped, signXml } from './sign-message.js';
import { attributeStatement, fillTemplate, loginResponseTemplate, statusResponseTemplate } from './response-template.js';

const { binding } = samlify.Constants.namespace;
const HTTP_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const RESPONSE = "/*[local-name(.)='Response']";
const ASSERTION = `${RESPONSE}/*[local-name(.)='Assertion']`;
/** XML Encryption 1.1 §5.2.4: an authenticated cipher, not CBC with its padding oracle. */
const AES_256_GCM = 'http://www.w3.org/2009/xmlenc11#aes256-gcm';
/** Clock skew an SP may have, and how long the SP has to consume the assertion. */
const NOT_BEFORE_SKEW_SEC = 60;
const VALIDITY_SEC = 5 * 60;
/** samlify SP entities kept at most (one per registered SP and ACS in use). */
const SP_ENTITIES_MAX = 1024;

/** The user facts an SP may receive, named as the admin API's attribute_mapping names them. */
export interface SamlUser {
  id: string;
  external_id: string;
  username: string | null;
  email: string | null;
  email_verified: boolean;
  phone: string | null;
  phone_verified: boolean;
  roles: readonly string[];
}

export const samlUserOf = (u: User): SamlUser => ({
  id: u.id,
  external_id: u.externalId,
  username: u.username,
  email: u.email,
  email_verified: u.emailVerified,
  phone: u.phone,
  phone_verified: u.phoneVerified,
  roles: u.roles,
});

export interface SamlLoginInput {
  sp: SamlServiceProvider;
  acsUrl: string;
  /** The AuthnRequest's ID; absent for an IdP-initiated (unsolicited) response. */
  inResponseTo?: string;
  user: SamlUser;
  /**
   * When the user authenticated (epoch seconds) and at which assurance level; the level picks the
   * context class unless `contextClass` names the one the request accepts.
   */
  authn: { authTime: number; acr: 'aal1' | 'aal2' | 'aal3'; contextClass?: string };
  sessionIndex: string;
  /** Epoch seconds: when the SP should consider the session over. */
  sessionNotOnOrAfter: number;
}

export interface SamlStatusInput {
  sp: SamlServiceProvider;
  acsUrl: string;
  inResponseTo?: string;
  /** The second-level status code (SAML 2.0 Core §3.2.2.2), under the top-level Responder. */
  status: 'NoAuthnContext' | 'AuthnFailed' | 'RequestDenied' | 'NoPassive';
}

/** The message as the HTTP-POST binding carries it (SAML 2.0 Bindings §3.5.4). */
export interface SamlPostMessage {
  id: string;
  samlResponse: string;
}

export class SamlResponseError extends Error {
  constructor(problem: string) {
    super(problem);
    this.name = 'SamlResponseError';
  }
}

/** xs:dateTime in UTC without milliseconds, which some SPs do not parse. */
const instant = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const newId = () => `_${randomToken(21)}`;
const nameFormatOf = (name: string) => `urn:oasis:names:tc:SAML:2.0:attrname-format:${/^(urn:|https?:\/\/)/i.test(name) ? 'uri' : 'basic'}`;

/** The mapped attributes with their values as text; a field the user has no value for is left out. */
function mappedAttributes(mapping: Readonly<Record<string, string>>, user: SamlUser) {
  return Object.entries(mapping).flatMap(([name, field]) => {
    const raw = (user as unknown as Record<string, unknown>)[field];
    const values = (Array.isArray(raw) ? raw : [raw])
      .filter((v): v is string | boolean | number => ['string', 'boolean', 'number'].includes(typeof v))
      .map(String);
    return values.length ? [{ name, nameFormat: nameFormatOf(name), values }] : [];
  });
}

/**
 * Builds the IdP's answers to an SP for the HTTP-POST binding: signed with the current SAML key
 * (RSA-SHA256, exclusive canonicalisation), the Assertion first and then the whole Response, and
 * the assertion encrypted to the SP between the two when it asked for that. Every value is set
 * here from the registry and the login, never read from the AuthnRequest beyond its ID: the ACS
 * URL the caller passes must be one the SP's metadata lists.
 */
export function createSamlResponder(deps: { saml: SamlIdpHolder; idKey: string; clock: Clock }) {
  const persistentKey = hmac(deps.idKey, 'saml-persistent-nameid-v1');
  const encrypting = new WeakMap<SamlIdp, ReturnType<typeof samlify.IdentityProvider>>();

  /** samlify encrypts per IdP entity, not per call: a twin of the current one that does, built once per key set. */
  function idpFor(encrypt: boolean) {
    const current = deps.saml.current;
    if (!encrypt) return current.idp;
    let idp = encrypting.get(current);
    if (!idp) {
      // dataEncryptionAlgorithm is an entity setting samlify's IdP settings type does not list.
      const settings = { ...current.idp.entitySetting, isAssertionEncrypted: true, dataEncryptionAlgorithm: AES_256_GCM };
      idp = samlify.IdentityProvider(settings);
      encrypting.set(current, idp);
    }
    return idp;
  }

  /**
   * samlify's view of the SP, which parses its metadata when built: one per SP row version and ACS,
   * so an update of the registry (a new updatedAt) builds a new one. Bounded like the registry.
   */
  const targets = new Map<string, ReturnType<typeof samlify.ServiceProvider>>();
  function targetFor(sp: SamlServiceProvider, acsUrl: string) {
    const key = `${sp.id}\n${sp.updatedAt.getTime()}\n${acsUrl}`;
    let target = targets.get(key);
    if (!target) {
      if (targets.size >= SP_ENTITIES_MAX) targets.clear();
      target = samlify.ServiceProvider({
        entityID: sp.entityId,
        assertionConsumerService: [{ Binding: binding.post, Location: acsUrl }],
        wantAssertionsSigned: sp.signAssertions,
        wantMessageSigned: true,
        ...(sp.encryptAssertions ? { encryptCert: sp.encryptionCertificates[0] } : {}),
      });
      targets.set(key, target);
    }
    return target;
  }

  function checkAcs(sp: SamlServiceProvider, acsUrl: string) {
    if (!sp.acsEndpoints.some((e) => e.binding === HTTP_POST && e.location === acsUrl)) {
      throw new SamlResponseError(`${acsUrl} is not an HTTP-POST AssertionConsumerService of ${sp.entityId}`);
    }
  }

  function envelope(acsUrl: string, inResponseTo: string | undefined, now: number) {
    return {
      ID: newId(),
      IssueInstant: instant(now),
      Destination: acsUrl,
      Issuer: deps.saml.current.idp.entityMeta.getEntityID(),
      ...(inResponseTo !== undefined ? { InResponseTo: inResponseTo } : {}),
    };
  }

  return {
    /** The signed response, and the NameID it names the user by (single logout names the user the same way). */
    async login(input: SamlLoginInput): Promise<SamlPostMessage & { nameId: { format: string; value: string } }> {
      const { sp, acsUrl, user, authn } = input;
      checkAcs(sp, acsUrl);
      if (sp.encryptAssertions && !sp.encryptionCertificates.length)
        throw new SamlResponseError(`${sp.entityId} asks for encrypted assertions but has no encryption certificate`);
      const now = deps.clock.now();
      const nameId = nameIdFor(sp.nameIdFormat, user, sp.entityId, persistentKey);
      const attributes = attributeStatement(mappedAttributes(sp.attributeMapping, user));
      const head = envelope(acsUrl, input.inResponseTo, now);
      const xml = fillTemplate(loginResponseTemplate(input.inResponseTo !== undefined, attributes.xml), {
        ...head,
        AssertionID: newId(),
        NameIDFormat: nameId.format,
        NameID: nameId.value,
        Recipient: acsUrl,
        Audience: sp.entityId,
        NotBefore: instant(now - NOT_BEFORE_SKEW_SEC * 1000),
        NotOnOrAfter: instant(now + VALIDITY_SEC * 1000),
        AuthnInstant: instant(authn.authTime * 1000),
        SessionIndex: input.sessionIndex,
        SessionNotOnOrAfter: instant(input.sessionNotOnOrAfter * 1000),
        AuthnContextClassRef: authn.contextClass ?? earnedClass(authn.acr),
        ...attributes.values,
      });
      // The assertion is signed, then encrypted to the SP, and the Response signature is computed last, over what the SP receives.
      let signed = sp.signAssertions ? signXml(deps.saml.current.idp, xml, ASSERTION) : xml;
      if (sp.encryptAssertions) {
        signed = Buffer.from(await samlify.SamlLib.encryptAssertion(idpFor(true), targetFor(sp, acsUrl), signed), 'base64').toString('utf8');
      }
      return { id: head.ID, samlResponse: Buffer.from(signXml(deps.saml.current.idp, signed, RESPONSE)).toString('base64'), nameId };
    },

    /** A signed Response with a failure status and no assertion, e.g. when the requested context cannot be met. */
    status(input: SamlStatusInput): SamlPostMessage {
      checkAcs(input.sp, input.acsUrl);
      const head = envelope(input.acsUrl, input.inResponseTo, deps.clock.now());
      const xml = fillTemplate(statusResponseTemplate(input.inResponseTo !== undefined), {
        ...head,
        StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Responder',
        SubStatusCode: `urn:oasis:names:tc:SAML:2.0:status:${input.status}`,
      });
      return { id: head.ID, samlResponse: signEnveloped(deps.saml.current.idp, xml, 'Response') };
    },
  };
}

export type SamlResponder = ReturnType<typeof createSamlResponder>;
