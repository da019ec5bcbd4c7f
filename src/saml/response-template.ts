import { escapeMarkup } from '../lib/text.js';

const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';

/**
 * Fills every `{Name}` of a template in one pass, each value escaped. One pass matters: a value
 * holding `{Audience}` (a user's name, say) stays text instead of being filled in turn.
 */
export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`SAML template: no value for {${name}}`);
    return escapeMarkup(value);
  });
}

/**
 * `InResponseTo` is left out, not left empty, when nothing was asked for (an IdP-initiated
 * response, SAML 2.0 Profiles §4.1.5): the schema types it as NCName, which "" is not.
 */
const inResponseTo = (solicited: boolean) => (solicited ? ' InResponseTo="{InResponseTo}"' : '');

const responseOpen = (solicited: boolean) =>
  `<samlp:Response xmlns:samlp="${PROTOCOL}" xmlns:saml="${ASSERTION}" ID="{ID}" Version="2.0" IssueInstant="{IssueInstant}" Destination="{Destination}"${inResponseTo(solicited)}><saml:Issuer>{Issuer}</saml:Issuer>`;

/** A Response carrying one assertion about the user (SAML 2.0 Core §2.3.3, §3.3.3). `attributes` is built by {@link attributeStatement}. */
export function loginResponseTemplate(solicited: boolean, attributes: string): string {
  return (
    responseOpen(solicited) +
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    `<saml:Assertion xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{AssertionID}" Version="2.0" IssueInstant="{IssueInstant}">` +
    `<saml:Issuer>{Issuer}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="{NameIDFormat}">{NameID}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{NotOnOrAfter}" Recipient="{Recipient}"${inResponseTo(solicited)}/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="{NotBefore}" NotOnOrAfter="{NotOnOrAfter}"><saml:AudienceRestriction><saml:Audience>{Audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="{AuthnInstant}" SessionIndex="{SessionIndex}" SessionNotOnOrAfter="{SessionNotOnOrAfter}"><saml:AuthnContext><saml:AuthnContextClassRef>{AuthnContextClassRef}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    attributes +
    `</saml:Assertion></samlp:Response>`
  );
}

/** A Response that only reports a failure: a top-level status code and a second-level one that says why (SAML 2.0 Core §3.2.2.2). */
export function statusResponseTemplate(solicited: boolean): string {
  return `${responseOpen(solicited)}<samlp:Status><samlp:StatusCode Value="{StatusCode}"><samlp:StatusCode Value="{SubStatusCode}"/></samlp:StatusCode></samlp:Status></samlp:Response>`;
}

/**
 * An AttributeStatement with placeholders `{AttrName<i>}` and `{AttrValue<i>_<j>}`, and their
 * values, to be filled by {@link fillTemplate} like every other value. Empty when there is no
 * attribute, as the schema wants at least one Attribute in a statement.
 */
export function attributeStatement(attributes: readonly { name: string; nameFormat: string; values: readonly string[] }[]): {
  xml: string;
  values: Record<string, string>;
} {
  const values: Record<string, string> = {};
  if (!attributes.length) return { xml: '', values };
  const attrs = attributes.map((a, i) => {
    values[`AttrName${i}`] = a.name;
    const valueElements = a.values.map((v, j) => {
      values[`AttrValue${i}_${j}`] = v;
      return `<saml:AttributeValue xsi:type="xs:string">{AttrValue${i}_${j}}</saml:AttributeValue>`;
    });
    return `<saml:Attribute Name="{AttrName${i}}" NameFormat="${a.nameFormat}">${valueElements.join('')}</saml:Attribute>`;
  });
  return { xml: `<saml:AttributeStatement>${attrs.join('')}</saml:AttributeStatement>`, values };
}
