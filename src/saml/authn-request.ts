import type { SamlServiceProvider } from '../store/repositories/saml-service-provider.repository.js';
import { samlEndpoints } from './identity-provider.js';
import {
  ASSERTION,
  PROTOCOL,
  SAML_MESSAGE_MAX_BYTES,
  SamlMessageError,
  attr,
  child,
  children,
  decodeMessage,
  envelopedSignature,
  isFirstSighting,
  isFresh,
  refuse,
  text,
  verifyPostSignature,
  verifyRedirectSignature,
  type IncomingSamlMessage,
  type SamlMessageRefusal,
  type SamlMessageReaderDeps,
} from './incoming-message.js';

const HTTP_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

/** A real AuthnRequest is a few KiB; the cap holds for the inflated Redirect payload and the decoded POST one alike. */
export const AUTHN_REQUEST_MAX_BYTES = SAML_MESSAGE_MAX_BYTES;

export type AuthnRequestRefusal = SamlMessageRefusal;
/** Why an AuthnRequest was refused: the refusal of any message from an SP, `reason` for the error page and the audit log. */
export const AuthnRequestError = SamlMessageError;
export type AuthnRequestError = SamlMessageError;

export type IncomingAuthnRequest = IncomingSamlMessage;

export interface ValidatedAuthnRequest {
  id: string;
  sp: SamlServiceProvider;
  /** Always one of the SP's registered HTTP-POST endpoints, never a URL taken from the request. */
  acsUrl: string;
  relayState?: string;
  forceAuthn: boolean;
  isPassive: boolean;
  requestedContexts?: { classRefs: string[]; comparison: 'exact' | 'minimum' | 'maximum' | 'better' };
  nameIdFormat?: string;
}

const isTrue = (v: string | undefined) => v === 'true' || v === '1';

/** The ACS the response goes to: named by URL or index, or the SP's default; always an HTTP-POST endpoint of its metadata. */
function chooseAcs(request: Element, sp: SamlServiceProvider): string {
  const post = sp.acsEndpoints.filter((e) => e.binding === HTTP_POST);
  const url = attr(request, 'AssertionConsumerServiceURL');
  const index = attr(request, 'AssertionConsumerServiceIndex');
  const binding = attr(request, 'ProtocolBinding');
  if (binding !== undefined && binding !== HTTP_POST) throw refuse('acs_not_registered', 'responses are sent with the HTTP-POST binding only');
  const chosen =
    url !== undefined
      ? post.find((e) => e.location === url)
      : index !== undefined
        ? post.find((e) => e.index === Number(index))
        : (post.find((e) => e.isDefault) ?? post[0]);
  if (!chosen) throw refuse('acs_not_registered', `the AssertionConsumerService asked for is not an HTTP-POST endpoint in the metadata of ${sp.entityId}`);
  return chosen.location;
}

function requestedContexts(request: Element): ValidatedAuthnRequest['requestedContexts'] {
  const requested = child(request, PROTOCOL, 'RequestedAuthnContext');
  if (!requested) return undefined;
  const comparison = (attr(requested, 'Comparison') ?? 'exact') as NonNullable<ValidatedAuthnRequest['requestedContexts']>['comparison'];
  return { classRefs: children(requested, ASSERTION, 'AuthnContextClassRef').map(text), comparison };
}

export type AuthnRequestReaderDeps = SamlMessageReaderDeps;

/**
 * Reads an AuthnRequest as it reaches the SSO endpoint (SAML Bindings §3.4 Redirect, §3.5 POST)
 * and returns what the login acts on, or throws an AuthnRequestError. Nothing an attacker chooses
 * survives unchecked: the issuer is a registered SP, the signature its metadata demands is
 * verified, every field comes from the verified element, and the ACS comes from the metadata.
 */
export function createAuthnRequestReader(deps: AuthnRequestReaderDeps) {
  const ssoUrl = samlEndpoints(deps.issuer).sso;

  return async function readAuthnRequest(incoming: IncomingAuthnRequest): Promise<ValidatedAuthnRequest> {
    const decoded = await decodeMessage(incoming, ['AuthnRequest']);
    const { root, relayState } = decoded;
    // Read before verification only to find whose certificate to verify with; read again from the verified element.
    const sp = decoded.claimedIssuer ? await deps.providers.findByEntityId(decoded.claimedIssuer) : undefined;
    if (!sp) throw refuse('unknown_issuer', 'the Issuer is not a registered service provider');
    if (!sp.enabled) throw refuse('service_provider_disabled', `${sp.entityId} is disabled`);

    // A signature is verified whenever one is sent, and required when the SP's metadata says AuthnRequestsSigned.
    let request = root;
    let signed = false;
    const signature = envelopedSignature(incoming, root);
    if ('query' in incoming) {
      signed = sp.authnRequestsSigned || incoming.query.Signature !== undefined || incoming.query.SigAlg !== undefined;
      if (signed) verifyRedirectSignature(incoming.query, incoming.octetString, 'SAMLRequest', sp);
    } else if (signature) {
      request = verifyPostSignature(decoded, signature, sp);
      signed = true;
    } else if (sp.authnRequestsSigned) {
      throw refuse('signature_required', `${sp.entityId} signs its requests; this one carries no signature`);
    }

    if (text(child(request, ASSERTION, 'Issuer')) !== sp.entityId) throw refuse('unknown_issuer', 'the signed Issuer is not the service provider verified');
    const destination = attr(request, 'Destination');
    // A signed request must name where it is going (SAML Bindings §3.4.5.2, §3.5.5.2), so it cannot be replayed at another IdP.
    if (destination !== ssoUrl && (destination !== undefined || signed)) throw refuse('wrong_destination', `Destination must be ${ssoUrl}`);
    if (!isFresh(attr(request, 'IssueInstant'), deps.clock.now())) throw refuse('expired', 'IssueInstant is too old or in the future');
    const acsUrl = chooseAcs(request, sp);

    const id = attr(request, 'ID')!;
    if (!(await isFirstSighting(deps.ephemeral, `saml:authn-request:${sp.id}:${id}`))) throw refuse('replayed', 'this AuthnRequest was received before');

    const nameIdFormat = attr(child(request, PROTOCOL, 'NameIDPolicy'), 'Format');
    const contexts = requestedContexts(request);
    return {
      id,
      sp,
      acsUrl,
      ...(relayState !== undefined ? { relayState } : {}),
      forceAuthn: isTrue(attr(request, 'ForceAuthn')),
      isPassive: isTrue(attr(request, 'IsPassive')),
      ...(contexts ? { requestedContexts: contexts } : {}),
      ...(nameIdFormat ? { nameIdFormat } : {}),
    };
  };
}

export type AuthnRequestReader = ReturnType<typeof createAuthnRequestReader>;
