/**
 * E-mails, SMS and calls in the person's language: the user's own `locale`, else their organisation's
 * `branding.default_locale`, else English; every text from the `email` and `sms` catalogues, the
 * organisation's display name (else the product's) naming the sender. Codes are sent through the
 * real destination service and MFA method; what the person would read is taken from the outbox and
 * from a Twilio-compatible peer. The admin API reads and writes `name` and `locale`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { startTwilioPeer } from '../helpers/delivery-peers.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { eventually, outbox, type OutboxMessage } from '../helpers/outbox.js';
import { patchSettings } from '../helpers/sessions.js';

const SID = `AC${'b2'.repeat(16)}`;
let idp: TestIdp;
let dataDir: string;
let twilio: Awaited<ReturnType<typeof startTwilioPeer>>;
const api = apiClient(() => idp.url);
const ctx = { actor: 'test', via: 'platform_api' as const };

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'idp-message-locale-'));
  idp = await startTestIdp('message-locale', 'postgres+redis', { dataDir });
  twilio = await startTwilioPeer(() => 'accept');
  // English by default, with a provider for calls only: SMS go to the outbox, calls to the peer.
  await patchSettings(idp.url, 'ml-english', { branding: { default_locale: 'en' } });
  const r = await api('POST', '/delivery-providers', {
    type: 'twilio',
    name: 'calls',
    channels: ['voice'],
    priority: 1,
    organization: (await api('GET', '/organizations/ml-english')).body.organization.id,
    config: { account_sid: SID, auth_token: 'twilio-auth-token-0123456789abcdef', from: '+15005550006', base_url: twilio.url },
  });
  expect(r.status).toBe(201);
  await patchSettings(idp.url, 'ml-german', { branding: { default_locale: 'de', display_name: 'Acme GmbH' } });
});
afterAll(async () => {
  await twilio.close();
  await idp.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

let seq = 0;
async function newUser(organization: string, extra: Record<string, unknown> = {}) {
  const username = `ml${++seq}_${process.pid}`;
  const email = `${username}@example.test`;
  const r = await api('POST', '/users', { user: { external_id: `ML_${username}`, username, email, email_verified: true, organization, ...extra } });
  expect(r.status).toBe(201);
  const user = (await idp.container.accounts.findById(r.body.user.id))!;
  return { user, email };
}

/** The newest outbox message to `to` that `pick` accepts, waiting for a background send. */
async function messageTo(to: string, pick: (m: OutboxMessage) => boolean = () => true): Promise<OutboxMessage> {
  const found = await eventually(async () => (await outbox(dataDir)).filter((m) => m.to === to && pick(m)).pop());
  if (!found) throw new Error(`no message to ${to}`);
  return found;
}

let numberSeq = 0;
const newNumber = () => `+4916${String(20_000_000 + ++numberSeq + (process.pid % 1000) * 1000).slice(-8)}`;

/** Adds an e-mail or phone destination: its verification code goes out in the user's language. */
const addDestination = (user: Awaited<ReturnType<typeof newUser>>['user'], kind: 'email' | 'phone', value: string, verified = false) =>
  idp.container.destinations.add(user, kind, value, ctx, { verified });

const sayings = (twiml: string) => [...twiml.matchAll(/<Say language="([^"]+)">([^<]*)<\/Say>/g)].map((m) => [m[1]!, m[2]!] as const);

describe('a user whose language is German', () => {
  test('gets the e-mail code in German, greeted by name', async () => {
    const { user } = await newUser('ml-english', { locale: 'de', name: 'Jürgen Weiß' });
    const address = `extra-${user.username}@example.test`;
    await addDestination(user, 'email', address);
    const mail = await messageTo(address, (m) => m.template === 'code');
    expect(mail.locale).toBe('de');
    expect(mail.subject).toBe('Ihr Bestätigungscode für MFA IdP');
    const code = /^ {4}(\d{6})$/m.exec(mail.text!)?.[1];
    expect(code).toBe(mail.data!.code);
    expect(mail.text).toMatch(/^Guten Tag Jürgen Weiß,\n\nIhr Code zur Bestätigung dieser E-Mail-Adresse bei MFA IdP:\n/);
    expect(mail.text).toContain('Geben Sie ihn niemals weiter: MFA IdP fragt Sie nie telefonisch oder per E-Mail danach.');
    expect(mail.text).toContain('— MFA IdP\nDies ist eine automatische Nachricht von localhost.');
    expect(mail.text).not.toMatch(/\b(Your|Hello|Never)\b/);
  });

  test('gets the SMS in German, code first and bound to the site', async () => {
    const { user } = await newUser('ml-english', { locale: 'de' });
    const number = newNumber();
    await addDestination(user, 'phone', number);
    const sms = await messageTo(number, (m) => m.channel === 'sms');
    expect(sms.locale).toBe('de');
    expect(sms.text).toBe(`${sms.code} ist Ihr Bestätigungscode für MFA IdP. Geben Sie ihn niemals weiter.\n\n@localhost #${sms.code}`);
  });

  test('gets a call that reads the sign-in code slowly, twice, in German', async () => {
    const { user } = await newUser('ml-english', { locale: 'de' });
    const number = newNumber();
    const destination = await addDestination(user, 'phone', number, true);
    const before = twilio.forms().length;
    const voice = idp.container.factors.get('voice')!;
    await voice.challenge!.start({ accountId: user.id, now: Date.now(), binding: `login:ml-${user.id}` }, { channel: 'voice', destination_id: destination.id });

    const call = twilio.forms()[before]!;
    expect(call.path).toBe(`/2010-04-01/Accounts/${SID}/Calls.json`);
    expect(call.form.To).toBe(number);
    const said = sayings(call.form.Twiml!);
    expect(new Set(said.map(([lang]) => lang))).toEqual(new Set(['de-DE']));
    const texts = said.map(([, text]) => text);
    const digits = texts.filter((t) => /^\d$/.test(t));
    expect(digits).toHaveLength(12);
    expect(digits.slice(0, 6)).toEqual(digits.slice(6));
    expect(texts).toEqual([
      'Guten Tag. Hier spricht MFA IdP. Ihr Anmeldecode lautet:',
      ...digits.slice(0, 6),
      'Ich wiederhole, Ihr Code lautet:',
      ...digits.slice(6),
      'Auf Wiederhören.',
    ]);
    // Slowly: a pause after every digit.
    expect(call.form.Twiml!.match(/<Pause length="1"\/>/g)!.length).toBe(14);
  });

  test('gets security notices in German, with the time written the German way', async () => {
    const { user, email } = await newUser('ml-english', { locale: 'de', name: 'Jürgen' });
    idp.container.notifier.told([
      {
        type: 'authn.factor.enrolled',
        outcome: 'success',
        subject: user.id,
        data: { method: 'totp' },
        at: new Date('2026-03-04T05:06:07Z'),
        ip: '203.0.113.7',
      },
    ]);
    await idp.container.notifier.idle();
    const notice = await messageTo(email, (m) => m.template === 'security-notice');
    expect(notice.locale).toBe('de');
    expect(notice.subject).toBe('Ihrem Konto wurde ein Anmeldefaktor hinzugefügt');
    expect(notice.text).toContain('Guten Tag Jürgen,\n\nIhrem Konto wurde ein Anmeldefaktor hinzugefügt\n\nMethode: Authenticator-App\n');
    expect(notice.text).toContain('Wann: 4. März 2026 um 05:06:07 UTC\nVon der Adresse: 203.0.113.7\n');
    expect(notice.text).toContain('Wenn Sie das nicht waren, melden Sie sich bei MFA IdP an');
  });

  test("a trusted contact's notice closes with its own advice, not the owner's", async () => {
    const { user, email } = await newUser('ml-english', { locale: 'de' });
    await idp.container.delivery.mail.send({
      to: email,
      template: 'security-notice',
      data: { notice: 'trusted_contact_named', values: { username: 'anna' } },
      organizationId: user.organizationId,
      locale: user.locale,
    });
    const notice = await messageTo(email, (m) => m.data?.notice === 'trusted_contact_named');
    expect(notice.subject).toBe('Sie wurden als Vertrauensperson angegeben');
    expect(notice.text).toContain('anna hat Sie als Vertrauensperson angegeben');
    expect(notice.text).toContain('\n\nWenn Sie diese Person nicht kennen, informieren Sie Ihre Administration.\n');
    expect(notice.text).not.toContain('Wenn Sie das nicht waren');
  });

  test('gets the recovery link in German', async () => {
    const { email } = await newUser('ml-english', { locale: 'de' });
    const r = await fetch(`${idp.url}/api/v1/recovery/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username_or_email: email }),
    });
    expect(r.status).toBe(202);
    const mail = await messageTo(email, (m) => m.template === 'recovery-link');
    expect(mail.locale).toBe('de');
    expect(mail.subject).toBe('Ihr Konto bei MFA IdP wiederherstellen');
    expect(mail.text).toContain('Jemand (hoffentlich Sie) möchte Ihr Konto bei MFA IdP wiederherstellen.');
    expect(mail.text).toContain(`\n    ${mail.data!.link}\n`);
    expect(mail.text).toContain('Der Link ist 30 Minuten lang gültig.');
    // The owner's notice of the request too.
    const told = await messageTo(email, (m) => m.template === 'security-notice');
    expect(told.subject).toBe('Eine Wiederherstellung Ihres Kontos wurde angefordert');
    expect(told.text).toContain('Jemand möchte Ihr Konto per E-Mail wiederherstellen.');
  });
});

describe('a user without a language of their own', () => {
  test("reads their organisation's default language, the organisation named as the sender", async () => {
    const { user } = await newUser('ml-german');
    expect(user.locale).toBeNull();
    const address = `extra-${user.username}@example.test`;
    await addDestination(user, 'email', address);
    const mail = await messageTo(address, (m) => m.template === 'code');
    expect(mail.locale).toBe('de');
    expect(mail.subject).toBe('Ihr Bestätigungscode für Acme GmbH');
    expect(mail.text).toMatch(/^Guten Tag,\n/);
    expect(mail.text).toContain('— Acme GmbH\n');

    const number = newNumber();
    await addDestination(user, 'phone', number);
    const sms = await messageTo(number, (m) => m.channel === 'sms');
    expect(sms.text).toBe(`${sms.code} ist Ihr Bestätigungscode für Acme GmbH. Geben Sie ihn niemals weiter.\n\n@localhost #${sms.code}`);
  });

  test('reads English in an English organisation; their own language wins over a German default', async () => {
    const { user } = await newUser('ml-english');
    const number = newNumber();
    await addDestination(user, 'phone', number);
    const sms = await messageTo(number, (m) => m.channel === 'sms');
    expect(sms.locale).toBe('en');
    expect(sms.text).toBe(`${sms.code} is your MFA IdP verification code. Never share it with anyone.\n\n@localhost #${sms.code}`);
    expect(sms.text!.length).toBeLessThanOrEqual(160);

    const english = await newUser('ml-german', { locale: 'en', name: 'Ada' });
    const address = `extra-${english.user.username}@example.test`;
    await addDestination(english.user, 'email', address);
    const mail = await messageTo(address, (m) => m.template === 'code');
    expect(mail.subject).toBe('Your Acme GmbH verification code');
    expect(mail.text).toMatch(/^Hello Ada,\n\nYour code to confirm this e-mail address at Acme GmbH:\n/);
  });
});

describe('name and locale on the admin user API', () => {
  test('are set on create (the name trimmed), read back by get and list, changed and cleared by patch', async () => {
    const username = `mlapi_${process.pid}`;
    const created = await api('POST', '/users', {
      user: { external_id: `ML_${username}`, username, organization: 'ml-english', name: '  Jürgen Weiß ', locale: 'de' },
    });
    expect(created.status).toBe(201);
    expect(created.body.user).toMatchObject({ name: 'Jürgen Weiß', locale: 'de' });
    const id = created.body.user.id as string;
    expect((await api('GET', `/users/${id}`)).body.user).toMatchObject({ name: 'Jürgen Weiß', locale: 'de' });
    const listed = await api('GET', `/users?username=${username}`);
    expect(listed.body.users).toEqual([expect.objectContaining({ id, name: 'Jürgen Weiß', locale: 'de' })]);

    const patched = await api('PATCH', `/users/${id}`, { user: { locale: 'en', name: 'J. Weiß' } });
    expect(patched.status).toBe(200);
    expect(patched.body.user).toMatchObject({ name: 'J. Weiß', locale: 'en' });
    const cleared = await api('PATCH', `/users/${id}`, { user: { locale: null, name: null } });
    expect(cleared.body.user).toMatchObject({ name: null, locale: null });
    expect(await idp.container.accounts.findById(id)).toMatchObject({ name: null, locale: null });
    // A patch that names neither leaves them.
    await api('PATCH', `/users/${id}`, { user: { locale: 'de' } });
    expect((await api('PATCH', `/users/${id}`, { user: { roles: [] } })).body.user).toMatchObject({ name: null, locale: 'de' });
  });

  test.each([
    ['a language we do not write in', { locale: 'fr' }, 'user.locale'],
    ['a language in capitals', { locale: 'DE' }, 'user.locale'],
    ['a language with a region', { locale: 'de-AT' }, 'user.locale'],
    ['a number as language', { locale: 7 }, 'user.locale'],
    ['a blank name', { name: '   ' }, 'user.name'],
    ['a name of 201 characters', { name: 'x'.repeat(201) }, 'user.name'],
    ['a name with a control character', { name: 'a\u0000b' }, 'user.name'],
  ])('%s is refused with a 400 naming the field, on create and on patch', async (_, fields, field) => {
    const bad = await api('POST', '/users', { user: { external_id: `ML_bad_${++seq}_${process.pid}`, ...fields } });
    expectJsonError(bad, 400, 'invalid_request', field);
    const { user } = await newUser('ml-english');
    expectJsonError(await api('PATCH', `/users/${user.id}`, { user: fields }), 400, 'invalid_request', field);
    expect(await idp.container.accounts.findById(user.id)).toMatchObject({ name: null, locale: null });
  });
});
