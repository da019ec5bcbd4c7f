import { loadConfig } from '../../src/config.js';
import { messageLocale, catalogueFor } from '../../src/delivery/messages/index.js';
import { withoutNumbers } from '../../src/delivery/providers/http-call.js';
import { twilioSignature, verifyTwilioSignature } from '../../src/delivery/providers/twilio-signature.js';
import { toText, toTwiml, voiceScript } from '../../src/delivery/voice-script.js';

describe('Twilio request signatures', () => {
  // The example of Twilio's request-validation documentation.
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = new Map([
    ['CallSid', 'CA1234567890ABCDE'],
    ['Caller', '+14158675309'],
    ['Digits', '1234'],
    ['From', '+14158675309'],
    ['To', '+18005551212'],
  ]);

  test('match the documented example', () => {
    expect(twilioSignature('12345', url, params)).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
    expect(verifyTwilioSignature('12345', url, params, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=')).toBe(true);
  });

  test('another token, URL, value or a missing header does not verify', () => {
    const good = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';
    expect(verifyTwilioSignature('12346', url, params, good)).toBe(false);
    expect(verifyTwilioSignature('12345', `${url}&x=1`, params, good)).toBe(false);
    expect(verifyTwilioSignature('12345', url, new Map(params).set('Digits', '1235'), good)).toBe(false);
    expect(verifyTwilioSignature('12345', url, params, undefined)).toBe(false);
    expect(verifyTwilioSignature('12345', url, params, good.repeat(10))).toBe(false);
  });
});

describe('voice scripts', () => {
  test('read each character alone, twice, and escape what they say', () => {
    const script = voiceScript('sign_in', '4<2', 'en', 'a&b.example');
    const twiml = toTwiml(script);
    expect(twiml).not.toContain('a&b');
    expect(twiml).toContain('a&#38;b.example');
    expect(twiml.match(/<Say language="en-US">&#60;<\/Say>/g)).toHaveLength(2);
    expect(toText(script)).toBe('Hello. This is a&b.example. Your sign-in code is: 4 < 2 Once again, your code is: 4 < 2 Goodbye.');
  });
});

describe('message catalogues', () => {
  test.each([
    ['de', 'de'],
    ['de-CH', 'de'],
    ['DE_at', 'de'],
    ['en-GB', 'en'],
    ['fr', 'en'],
    [undefined, 'en'],
    ['', 'en'],
    ['__proto__', 'en'],
    ['constructor', 'en'],
  ])('%s → %s', (tag, expected) => {
    expect(messageLocale(tag)).toBe(expected);
    expect(catalogueFor(tag).voiceLanguage.startsWith(expected)).toBe(true);
  });
});

test('phone numbers quoted in a provider error are removed', () => {
  expect(withoutNumbers("The 'To' number +1 (500) 555-0001 is not valid, error 21211")).toBe("The 'To' number [number] is not valid, error 21211");
});

describe('configuration', () => {
  test('SMTP_URL and SMTP_FROM set smtp.url and smtp.from; a URL of another scheme stops start-up naming the variable', () => {
    const config = loadConfig({ SMTP_URL: 'smtps://mail.example.test:465', SMTP_FROM: 'IdP <idp@example.test>' });
    expect(config.smtp).toEqual({ url: 'smtps://mail.example.test:465', from: 'IdP <idp@example.test>' });
    expect(config.delivery.timeoutMs).toBe(5000);
    expect(() => loadConfig({ SMTP_URL: 'http://mail.example.test' })).toThrow(
      'invalid configuration: smtp.url (SMTP_URL): must be an smtp:// or smtps:// URL',
    );
    expect(() => loadConfig({ IDP_SMTP__HOST: 'mail' })).toThrow('unknown setting IDP_SMTP__HOST');
    expect(() => loadConfig({ IDP_DELIVERY__TIMEOUT_MS: '0' })).toThrow('delivery.timeoutMs');
  });
});
