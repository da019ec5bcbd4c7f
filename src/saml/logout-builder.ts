import type { Clock } from '../lib/clock.js';
import { randomToken } from '../lib/crypto.js';
import type { SamlEndpoint } from '../store/database.js';
import type { SamlServiceProvider } from '../store/repositories/saml-service-provider.repository.js';
import type { SamlIdpHolder } from './identity-provider.js';
import { PROTOCOL, ASSERTION } from './incoming-message.js';
import { fillTemplate } from './response-template.js';
import { signEnveloped, signedRedirectUrl } from './sign-message.js';

const HTTP_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const HTTP_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';
/** How long an SP has to act on the IdP's LogoutRequest (SAML 2.0 Core §3.7.1 NotOnOrAfter). */
const REQUEST_VALIDITY_MS = 5 * 60_000;

/** A message on its way to an SP through the browser: a signed Redirect URL, or an HTTP-POST form's fields. */
export type OutgoingMessage =
  { binding: 'redirect'; url: string } | { binding: 'post'; action: string; field: 'SAMLRequest' | 'SAMLResponse'; value: string; relayState?: string };

/**
 * A LogoutResponse's status (SAML 2.0 Core §3.2.2.2, §3.7.3.2): Success, Success with the
 * second-level PartialLogout when some participant could not be logged out, or a top-level
 * Requester/Responder error.
 */
export type LogoutStatus = 'success' | 'partial' | 'requester' | 'responder';
const statusCodes: Record<LogoutStatus, [string, string?]> = {
  success: [`${STATUS}Success`],
  partial: [`${STATUS}Success`, `${STATUS}PartialLogout`],
  requester: [`${STATUS}Requester`],
  responder: [`${STATUS}Responder`],
};

const instant = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const logoutRequestTemplate =
  `<samlp:LogoutRequest xmlns:samlp="${PROTOCOL}" xmlns:saml="${ASSERTION}" ID="{ID}" Version="2.0" IssueInstant="{IssueInstant}" Destination="{Destination}" NotOnOrAfter="{NotOnOrAfter}">` +
  `<saml:Issuer>{Issuer}</saml:Issuer><saml:NameID Format="{NameIDFormat}">{NameID}</saml:NameID><samlp:SessionIndex>{SessionIndex}</samlp:SessionIndex></samlp:LogoutRequest>`;

const logoutResponseTemplate = (second: boolean) =>
  `<samlp:LogoutResponse xmlns:samlp="${PROTOCOL}" xmlns:saml="${ASSERTION}" ID="{ID}" Version="2.0" IssueInstant="{IssueInstant}" Destination="{Destination}" InResponseTo="{InResponseTo}">` +
  `<saml:Issuer>{Issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{StatusCode}">${second ? '<samlp:StatusCode Value="{SubStatusCode}"/>' : ''}</samlp:StatusCode></samlp:Status></samlp:LogoutResponse>`;

/** The SP's SingleLogoutService the IdP uses: HTTP-Redirect when it has one, else HTTP-POST; undefined when it has neither. */
export function sloEndpointOf(sp: SamlServiceProvider): SamlEndpoint | undefined {
  return sp.sloEndpoints.find((e) => e.binding === HTTP_REDIRECT) ?? sp.sloEndpoints.find((e) => e.binding === HTTP_POST);
}

/**
 * The IdP's single logout messages to an SP (SAML 2.0 Profiles §4.4), signed with the current SAML
 * key (RSA-SHA256; exclusive canonicalisation for an XML signature), sent to the SLO endpoint of
 * the SP's metadata and nowhere else.
 */
export function createLogoutMessages(deps: { saml: SamlIdpHolder; clock: Clock }) {
  function send(endpoint: SamlEndpoint, destination: string, field: 'SAMLRequest' | 'SAMLResponse', xml: string, rootName: string, relayState?: string) {
    const { idp } = deps.saml.current;
    if (endpoint.binding === HTTP_REDIRECT) return { binding: 'redirect', url: signedRedirectUrl(idp, destination, field, xml, relayState) } as const;
    return {
      binding: 'post',
      action: destination,
      field,
      value: signEnveloped(idp, xml, rootName),
      ...(relayState !== undefined ? { relayState } : {}),
    } as const;
  }

  const head = (destination: string, now: number) => ({
    ID: `_${randomToken(21)}`,
    IssueInstant: instant(now),
    Destination: destination,
    Issuer: deps.saml.current.idp.entityMeta.getEntityID(),
  });

  return {
    /** A LogoutRequest naming the user as the SP knows them; undefined when the SP has no SLO endpoint. */
    request(input: {
      sp: SamlServiceProvider;
      nameId: string;
      nameIdFormat: string;
      sessionIndex: string;
    }): { id: string; message: OutgoingMessage } | undefined {
      const endpoint = sloEndpointOf(input.sp);
      if (!endpoint) return undefined;
      const now = deps.clock.now();
      const values = {
        ...head(endpoint.location, now),
        NotOnOrAfter: instant(now + REQUEST_VALIDITY_MS),
        NameIDFormat: input.nameIdFormat,
        NameID: input.nameId,
        SessionIndex: input.sessionIndex,
      };
      const xml = fillTemplate(logoutRequestTemplate, values);
      return { id: values.ID, message: send(endpoint, endpoint.location, 'SAMLRequest', xml, 'LogoutRequest') };
    },

    /** The answer to an SP's LogoutRequest, at its ResponseLocation if it has one; undefined when the SP has no SLO endpoint. */
    response(input: { sp: SamlServiceProvider; inResponseTo: string; status: LogoutStatus; relayState?: string }): OutgoingMessage | undefined {
      const endpoint = sloEndpointOf(input.sp);
      if (!endpoint) return undefined;
      const destination = endpoint.responseLocation ?? endpoint.location;
      const [code, subCode] = statusCodes[input.status];
      const xml = fillTemplate(logoutResponseTemplate(subCode !== undefined), {
        ...head(destination, deps.clock.now()),
        InResponseTo: input.inResponseTo,
        StatusCode: code,
        ...(subCode !== undefined ? { SubStatusCode: subCode } : {}),
      });
      return send(endpoint, destination, 'SAMLResponse', xml, 'LogoutResponse', input.relayState);
    },
  };
}

export type LogoutMessages = ReturnType<typeof createLogoutMessages>;
