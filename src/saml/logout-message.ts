import type { SamlServiceProvider } from '../store/repositories/saml-service-provider.repository.js';
import { samlEndpoints } from './identity-provider.js';
import {
  ASSERTION,
  PROTOCOL,
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
  type SamlMessageReaderDeps,
} from './incoming-message.js';

const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

/** An SP's LogoutRequest (SAML 2.0 Core §3.7.1), every field read from the verified element. */
export interface ValidatedLogoutRequest {
  kind: 'request';
  id: string;
  sp: SamlServiceProvider;
  nameId: string;
  nameIdFormat?: string;
  sessionIndexes: string[];
  relayState?: string;
}

/** An SP's LogoutResponse (SAML 2.0 Core §3.7.2) to a LogoutRequest the IdP sent it. */
export interface ValidatedLogoutResponse {
  kind: 'response';
  id: string;
  sp: SamlServiceProvider;
  inResponseTo?: string;
  /** Top-level status Success: the SP ended its session. */
  success: boolean;
  relayState?: string;
}

export type ValidatedLogoutMessage = ValidatedLogoutRequest | ValidatedLogoutResponse;

export type LogoutMessageReaderDeps = SamlMessageReaderDeps;

/**
 * Reads a LogoutRequest or LogoutResponse as it reaches the SLO endpoint (SAML Bindings §3.4
 * Redirect, §3.5 POST), or throws a SamlMessageError. Logout ends sessions, so more is demanded
 * than of an AuthnRequest: every message is signed by a registered SP with a key of its metadata
 * (SAML Profiles §4.4.3.1, §4.4.4.1), names this endpoint as its Destination, is fresh and is
 * seen once.
 */
export function createLogoutMessageReader(deps: LogoutMessageReaderDeps) {
  const sloUrl = samlEndpoints(deps.issuer).slo;

  return async function readLogoutMessage(incoming: IncomingSamlMessage): Promise<ValidatedLogoutMessage> {
    const decoded = await decodeMessage(incoming, ['LogoutRequest', 'LogoutResponse']);
    const { root, relayState, field } = decoded;
    const expectedRoot = field === 'SAMLRequest' ? 'LogoutRequest' : 'LogoutResponse';
    if (root.localName !== expectedRoot) throw refuse('malformed', `${field} must carry a samlp:${expectedRoot}`);
    // Read before verification only to find whose certificate to verify with; read again from the verified element.
    const sp = decoded.claimedIssuer ? await deps.providers.findByEntityId(decoded.claimedIssuer) : undefined;
    if (!sp) throw refuse('unknown_issuer', 'the Issuer is not a registered service provider');

    let message = root;
    const signature = envelopedSignature(incoming, root);
    if ('query' in incoming) verifyRedirectSignature(incoming.query, incoming.octetString, field, sp);
    else if (signature) message = verifyPostSignature(decoded, signature, sp);
    else throw refuse('signature_required', `${sp.entityId} must sign its logout messages; this one carries no signature`);

    if (text(child(message, ASSERTION, 'Issuer')) !== sp.entityId) throw refuse('unknown_issuer', 'the signed Issuer is not the service provider verified');
    if (attr(message, 'Destination') !== sloUrl) throw refuse('wrong_destination', `Destination must be ${sloUrl}`);
    const now = deps.clock.now();
    if (!isFresh(attr(message, 'IssueInstant'), now)) throw refuse('expired', 'IssueInstant is too old or in the future');
    const notOnOrAfter = attr(message, 'NotOnOrAfter');
    if (notOnOrAfter !== undefined && !(Date.parse(notOnOrAfter) > now)) throw refuse('expired', 'the LogoutRequest is past its NotOnOrAfter');

    const id = attr(message, 'ID')!;
    if (!(await isFirstSighting(deps.ephemeral, `saml:logout:${sp.id}:${id}`))) throw refuse('replayed', `this ${root.localName} was received before`);
    const relay = relayState !== undefined ? { relayState } : {};

    if (expectedRoot === 'LogoutResponse') {
      const inResponseTo = attr(message, 'InResponseTo');
      const status = attr(child(child(message, PROTOCOL, 'Status')!, PROTOCOL, 'StatusCode'), 'Value');
      return { kind: 'response', id, sp, ...(inResponseTo !== undefined ? { inResponseTo } : {}), success: status === SUCCESS, ...relay };
    }
    // The schema allows BaseID or EncryptedID instead; this IdP only ever issues a NameID, so nothing else can name its user.
    const nameId = child(message, ASSERTION, 'NameID');
    if (!nameId) throw refuse('name_id_mismatch', 'the LogoutRequest names no NameID');
    const nameIdFormat = attr(nameId, 'Format');
    return {
      kind: 'request',
      id,
      sp,
      nameId: text(nameId),
      ...(nameIdFormat !== undefined ? { nameIdFormat } : {}),
      sessionIndexes: children(message, PROTOCOL, 'SessionIndex').map(text),
      ...relay,
    };
  };
}

export type LogoutMessageReader = ReturnType<typeof createLogoutMessageReader>;
