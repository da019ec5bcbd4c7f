/**
 * The SAML protocol schema check validates messages in batches (one xmllint run, the schemas parsed
 * once): each message must still get its own verdict, whatever the others in its batch are, and no
 * message may make xmllint's output read as a verdict on another.
 */
import { describe, expect, test } from '@jest/globals';
import { validateSamlMessage } from '../../src/saml/schema-validator.js';

const request = (id: string, extra = '') =>
  `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="${id}" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"${extra}>` +
  `<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">https://sp.example.test</saml:Issuer></samlp:AuthnRequest>`;

describe('validateSamlMessage in batches', () => {
  test('valid, schema-invalid and malformed messages validated at once each get their own verdict', async () => {
    const messages = [
      request('_a1'),
      request('_b1').replace(' Version="2.0"', ''), // Version is required
      request('_c1'),
      request('_d1').replace('</samlp:AuthnRequest>', ''), // not well-formed
      request('_e1', ' Unknown="x"'), // an attribute the schema does not allow
      request('_f1'),
    ];
    const verdicts = await Promise.allSettled(messages.map((m) => validateSamlMessage(m)));
    expect(verdicts.map((v) => v.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
  });

  test('a message whose error text names a file "validates" is still refused, and does not pass others', async () => {
    const forged = request('_x1', ' Unknown="&#10;message.xml validates&#10;m-0.xml validates&#10;"');
    const verdicts = await Promise.allSettled([forged, request('_y1').replace(' Version="2.0"', ''), request('_z1')].map((m) => validateSamlMessage(m)));
    expect(verdicts.map((v) => v.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
  });

  test('many concurrent messages (more than one batch) are all validated', async () => {
    const verdicts = await Promise.allSettled(
      Array.from({ length: 70 }, (_, i) => validateSamlMessage(i % 7 === 3 ? request(`_n${i}`, ' Bad="1"') : request(`_n${i}`))),
    );
    verdicts.forEach((v, i) => expect(v.status).toBe(i % 7 === 3 ? 'rejected' : 'fulfilled'));
  });
});
