import { loadConfig, localesDir } from '../../src/config.js';
import { fitsOneSms, smsText } from '../../src/delivery/code-texts.js';
import { createWording } from '../../src/delivery/wording.js';
import { loadMessages } from '../../src/i18n/i18n.js';
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

const messages = loadMessages(localesDir);
const wordingIn = (site: string, branding: { display_name: string | null; default_locale: string } = { display_name: null, default_locale: 'en' }) =>
  createWording({ messages, site, branding: async () => branding });

describe('voice scripts', () => {
  test('read each character alone, twice, and escape what they say', async () => {
    const w = await wordingIn('idp.example', { display_name: 'a&b', default_locale: 'en' })({ locale: 'en' });
    const script = voiceScript(w, 'sign_in', '4<2');
    const twiml = toTwiml(script);
    expect(twiml).not.toContain('a&b');
    expect(twiml).toContain('This is a&#38;b.');
    expect(twiml.match(/<Say language="en-US">&#60;<\/Say>/g)).toHaveLength(2);
    expect(toText(script)).toBe('Hello. This is a&b. Your sign-in code is: 4 < 2 Once again, your code is: 4 < 2 Goodbye.');
  });
});

describe('the language of a message', () => {
  test.each([
    ['de', 'en', 'de'],
    ['de-CH', 'en', 'de'],
    ['DE-at', 'en', 'de'],
    ['en-GB', 'de', 'en'],
    ['fr', 'en', 'en'],
    ['fr', 'de', 'de'],
    [undefined, 'de', 'de'],
    [null, 'en', 'en'],
    ['', 'de', 'de'],
    ['__proto__', 'en', 'en'],
    ['constructor', 'de', 'de'],
  ])('%s with the organisation default %s → %s', async (locale, fallback, expected) => {
    const w = await wordingIn('idp.example', { display_name: null, default_locale: fallback })({ locale });
    expect(w.lang).toBe(expected);
    expect(w.sender).toBe('MFA IdP');
    expect(voiceScript(w, 'sign_in', '1').language.startsWith(expected)).toBe(true);
  });
});

describe('SMS texts', () => {
  test('the code first, the origin-bound line last, one GSM-7 message in English even for a long host', async () => {
    const site = `login.${'a'.repeat(40)}.example.com`;
    const text = smsText(await wordingIn(site)({ locale: 'en' }), 'recovery', '12345678');
    expect(text).toBe(`12345678 is your MFA IdP account recovery code. Never share it with anyone.\n\n@${site} #12345678`);
    expect(fitsOneSms(text)).toBe(true);
  });

  test('a sender name that would split the message is left out', async () => {
    const w = await wordingIn('idp.example', { display_name: 'A'.repeat(100), default_locale: 'en' })({});
    expect(smsText(w, 'sign_in', '123456')).toBe('123456 is your sign-in code.\n\n@idp.example #123456');
  });

  test('GSM-7 counts extension characters twice; another character makes the limit 70', () => {
    expect(fitsOneSms('a'.repeat(160))).toBe(true);
    expect(fitsOneSms('a'.repeat(161))).toBe(false);
    expect(fitsOneSms(`${'a'.repeat(158)}€`)).toBe(true);
    expect(fitsOneSms(`${'a'.repeat(159)}€`)).toBe(false);
    expect(fitsOneSms(`Grüße ${'a'.repeat(150)}`)).toBe(true);
    expect(fitsOneSms(`ł${'a'.repeat(69)}`)).toBe(true);
    expect(fitsOneSms(`ł${'a'.repeat(70)}`)).toBe(false);
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
