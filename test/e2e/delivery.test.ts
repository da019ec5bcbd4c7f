/**
 * How codes leave the IdP, against real protocol peers in this process: Twilio-compatible HTTP APIs
 * (one failing or hanging, to prove failover without the same code reaching a phone twice), a
 * signed-webhook receiver, an SMTP server, and signed status reports coming back.
 */
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../src/lib/logger.js';
import { createDeliveryRepository } from '../../src/store/repositories/delivery.repository.js';
import { verifyPayload, signPayload } from '../../src/lib/webhook-signature.js';
import { twilioSignature } from '../../src/delivery/providers/twilio-signature.js';
import type { OutgoingCode } from '../../src/delivery/delivery.js';
import { apiClient, expectJsonError } from '../helpers/api.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { newUser } from '../helpers/mfa-flow.js';
import { decodeMail, logSink, startHttpPeer, startSmtpPeer, startTwilioPeer, type Behaviour } from '../helpers/delivery-peers.js';

const SID = `AC${'a1'.repeat(16)}`;
const TOKEN = 'twilio-auth-token-0123456789abcdef';
const WEBHOOK_SECRET = 'webhook-signing-secret-0123456789abcdef';
const TIMEOUT_MS = 400;

let idp: TestIdp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
const log = logSink();
const api = apiClient(() => idp.url);
const closers: (() => Promise<void>)[] = [];
/** Every (number, code) pair any provider peer received, across the whole file. */
const sentTo: { to: string; code: string }[] = [];
/** Everything secret the tests hand over: none may appear in a log line. */
const secrets = new Set<string>([TOKEN, WEBHOOK_SECRET]);

beforeAll(async () => {
  smtp = await startSmtpPeer();
  idp = await startTestIdp(
    'delivery',
    'postgres+redis',
    { logLevel: 'debug', smtp: { url: smtp.url, from: 'idp@example.test' }, delivery: { timeoutMs: TIMEOUT_MS } },
    { logger: createLogger('debug', log.sink) },
  );
});
afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
  await smtp.close();
  await idp.stop();
});

let orgSeq = 0;
async function newOrg(): Promise<string> {
  const r = await api('POST', '/organizations', { slug: `dlv-${process.pid}-${++orgSeq}` });
  expect(r.status).toBe(201);
  return r.body.organization.id as string;
}

async function twilioPeer(behaviour: Behaviour | (() => Behaviour)) {
  const peer = await startTwilioPeer(typeof behaviour === 'function' ? behaviour : () => behaviour);
  closers.push(peer.close);
  return peer;
}

async function addTwilio(org: string | null, baseUrl: string, priority: number, over: Record<string, unknown> = {}) {
  const r = await api('POST', '/delivery-providers', {
    type: 'twilio',
    name: `twilio-${priority}`,
    channels: ['sms', 'voice'],
    priority,
    ...(org ? { organization: org } : {}),
    config: { account_sid: SID, auth_token: TOKEN, from: '+15005550006', base_url: baseUrl },
    ...over,
  });
  expect(r.status).toBe(201);
  return r.body as { id: string; name: string };
}

let numberSeq = 0;
const newNumber = () => `+4915${String(10_000_000 + ++numberSeq).slice(-8)}${numberSeq % 10}`;
const newCode = () => String(100_000 + Math.floor(Math.random() * 900_000));

/** A code message whose codes (the first and each regenerated one) are remembered, as the otp part would. */
function outgoing(org: string, over: Partial<OutgoingCode> = {}) {
  const codes = [newCode()];
  const message: OutgoingCode = {
    channel: 'sms',
    to: newNumber(),
    code: codes[0]!,
    purpose: 'sign_in',
    organizationId: org,
    codeFor: async (attempt) => {
      expect(attempt).toBe(codes.length);
      codes.push(newCode());
      return codes[attempt]!;
    },
    ...over,
  };
  for (const c of codes) secrets.add(c);
  secrets.add(message.to);
  return { message, codes };
}

/** The code and number an SMS request to a Twilio peer carried (recorded for the whole-file check). */
function smsOf(form: Record<string, string>) {
  const code = /^(\d{6}) is your/.exec(form.Body ?? '')?.[1] ?? '';
  sentTo.push({ to: form.To!, code });
  secrets.add(code);
  return { to: form.To, code };
}

const records = (org: string) => idp.container.db.selectFrom('deliveries').selectAll().where('organizationId', '=', org).orderBy('createdAt').execute();

describe('SMS failover across Twilio-compatible providers', () => {
  test('a provider answering 500 may have sent the code: the next provider gets a new one', async () => {
    const org = await newOrg();
    const broken = await twilioPeer('error500');
    const good = await twilioPeer('accept');
    await addTwilio(org, good.url, 20);
    await addTwilio(org, broken.url, 10);
    const { message, codes } = outgoing(org);

    const delivered = await idp.container.delivery.codes.send(message);

    expect(delivered).toMatchObject({ provider: 'twilio-20', attempt: 1 });
    expect(codes).toHaveLength(2);
    const [first] = broken.forms();
    const [second] = good.forms();
    expect(first!.path).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
    expect(first!.auth).toBe(`Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`);
    expect(first!.form).toMatchObject({ To: message.to, From: '+15005550006' });
    expect(first!.form.StatusCallback).toMatch(new RegExp(`^${idp.url}/api/v1/delivery-status/[0-9a-f-]{36}$`));
    expect(smsOf(first!.form)).toEqual({ to: message.to, code: codes[0] });
    expect(smsOf(second!.form)).toEqual({ to: message.to, code: codes[1] });
    // Bound to this site for the browser's WebOTP autofill.
    expect(second!.form.Body).toMatch(new RegExp(`\\n@localhost #${codes[1]!}$`));

    const rows = await records(org);
    expect(rows.map((r) => [r.provider, r.status])).toEqual([
      ['twilio-10', 'failed'],
      ['twilio-20', 'accepted'],
    ]);
    expect(rows[1]!.id).toBe(delivered.deliveryId);
    expect(rows[1]!.providerMessageId).toMatch(/^SM\d{32}$/);
  });

  test('a provider that hangs past the timeout is abandoned; the next provider gets a new code', async () => {
    const org = await newOrg();
    const hanging = await twilioPeer('hang');
    const good = await twilioPeer('accept');
    await addTwilio(org, hanging.url, 1);
    await addTwilio(org, good.url, 2);
    const { message, codes } = outgoing(org);

    const started = Date.now();
    const delivered = await idp.container.delivery.codes.send(message);
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 3000);

    expect(delivered.attempt).toBe(1);
    expect(smsOf(hanging.forms()[0]!.form).code).toBe(codes[0]);
    expect(smsOf(good.forms()[0]!.form).code).toBe(codes[1]);
    expect((await records(org)).map((r) => r.status)).toEqual(['timeout', 'accepted']);
  });

  test('without a way to make a new code, a provider that may have sent it ends the failover: delivery_failed', async () => {
    const org = await newOrg();
    const broken = await twilioPeer('error500');
    const good = await twilioPeer('accept');
    await addTwilio(org, broken.url, 1);
    await addTwilio(org, good.url, 2);
    const { message } = outgoing(org, { codeFor: undefined });

    await expect(idp.container.delivery.codes.send(message)).rejects.toMatchObject({ error: 'delivery_failed' });
    smsOf(broken.forms()[0]!.form);
    expect(good.received).toHaveLength(0);
  });

  test('a clean refusal (4xx) or no connection proves nothing was sent: the next provider gets the same code', async () => {
    const org = await newOrg();
    const refusing = await twilioPeer('refuse400');
    const closed = await startHttpPeer(() => ({ status: 201 }));
    await closed.close(); // its port now refuses connections
    const good = await twilioPeer('accept');
    await addTwilio(org, refusing.url, 1);
    await addTwilio(org, closed.url, 2);
    await addTwilio(org, good.url, 3);
    const { message, codes } = outgoing(org, { codeFor: undefined });

    const delivered = await idp.container.delivery.codes.send(message);

    expect(delivered).toMatchObject({ provider: 'twilio-3', attempt: 0 });
    expect(codes).toHaveLength(1);
    expect(refusing.forms()[0]!.form.Body).toContain(codes[0]);
    expect(good.forms()[0]!.form.Body).toContain(codes[0]);
    const rows = await records(org);
    expect(rows.map((r) => [r.provider, r.status])).toEqual([
      ['twilio-1', 'failed'],
      ['twilio-2', 'failed'],
      ['twilio-3', 'accepted'],
    ]);
    // The provider's error code is kept, not its words (which quote the number).
    expect(rows[0]!.error).toBe('HTTP 400: provider error 21211');
    expect(rows[1]!.error).toBe('not connected: ECONNREFUSED');
  });

  test('every provider failing: delivery_failed, each attempt recorded', async () => {
    const org = await newOrg();
    const a = await twilioPeer('error500');
    const b = await twilioPeer('error500');
    await addTwilio(org, a.url, 1);
    await addTwilio(org, b.url, 2);
    const { message, codes } = outgoing(org);
    await expect(idp.container.delivery.codes.send(message)).rejects.toMatchObject({ error: 'delivery_failed' });
    expect(codes).toHaveLength(2);
    expect(smsOf(a.forms()[0]!.form).code).toBe(codes[0]);
    expect(smsOf(b.forms()[0]!.form).code).toBe(codes[1]);
    expect((await records(org)).map((r) => r.status)).toEqual(['failed', 'failed']);
  });

  test('an organisation uses its own providers and the global ones in priority order, never another organisation’s', async () => {
    const [mine, theirs] = [await newOrg(), await newOrg()];
    const own = await twilioPeer('refuse400');
    const other = await twilioPeer('accept');
    const global = await twilioPeer('accept');
    await addTwilio(mine, own.url, 1);
    await addTwilio(theirs, other.url, 0);
    const g = await addTwilio(null, global.url, 500);
    const { message } = outgoing(mine);
    expect((await idp.container.delivery.codes.send(message)).provider).toBe('twilio-500');
    expect(own.received).toHaveLength(1);
    expect(other.received).toHaveLength(0);
    smsOf(global.forms()[0]!.form);
    // The global provider stays for the other tests' organisations only as long as this test.
    expect((await api('DELETE', `/delivery-providers/${g.id}`)).status).toBe(204);
  });

  test('a disabled provider or one without the channel is skipped', async () => {
    const org = await newOrg();
    const off = await twilioPeer('accept');
    const smsOnly = await twilioPeer('accept');
    const good = await twilioPeer('accept');
    await addTwilio(org, off.url, 1, { enabled: false });
    await addTwilio(org, smsOnly.url, 2, { channels: ['sms'] });
    await addTwilio(org, good.url, 3);
    const { message } = outgoing(org, { channel: 'voice' });
    expect((await idp.container.delivery.codes.send(message)).provider).toBe('twilio-3');
    expect(off.received).toHaveLength(0);
    expect(smsOnly.received).toHaveLength(0);
  });
});

describe('voice', () => {
  const sayings = (twiml: string) => [...twiml.matchAll(/<Say language="([^"]+)">([^<]*)<\/Say>/g)].map((m) => [m[1], m[2]]);

  test('a German call reads the code slowly, digit by digit with pauses, twice', async () => {
    const org = await newOrg();
    const peer = await twilioPeer('accept');
    await addTwilio(org, peer.url, 1);
    const { message, codes } = outgoing(org, { channel: 'voice', locale: 'de-AT', purpose: 'verify_destination' });
    await idp.container.delivery.codes.send(message);

    const [call] = peer.forms();
    expect(call!.path).toBe(`/2010-04-01/Accounts/${SID}/Calls.json`);
    expect(call!.form).toMatchObject({ To: message.to, From: '+15005550006' });
    expect(call!.form.Body).toBeUndefined();
    const twiml = call!.form.Twiml!;
    expect(twiml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Response>.*<\/Response>$/);
    const said = sayings(twiml);
    expect(new Set(said.map(([lang]) => lang))).toEqual(new Set(['de-DE']));
    expect(said[0]![1]).toBe('Guten Tag. Hier spricht MFA IdP. Ihr Bestätigungscode lautet:');
    const digits = said
      .filter(([, text]) => /^\d$/.test(text!))
      .map(([, d]) => d)
      .join('');
    expect(digits).toBe(`${codes[0]!}${codes[0]!}`);
    // A pause after every digit.
    expect(twiml.match(/<Pause length="1"\/>/g)!.length).toBeGreaterThanOrEqual(12);
    expect(said.some(([, t]) => t!.startsWith('Ich wiederhole'))).toBe(true);
    sentTo.push({ to: message.to, code: codes[0]! });
  });

  test('an unknown language falls back to English', async () => {
    const org = await newOrg();
    const peer = await twilioPeer('accept');
    await addTwilio(org, peer.url, 1);
    const { message } = outgoing(org, { channel: 'voice', locale: 'xx' });
    await idp.container.delivery.codes.send(message);
    const said = sayings(peer.forms()[0]!.form.Twiml!);
    expect(said[0]).toEqual(['en-US', 'Hello. This is MFA IdP. Your sign-in code is:']);
  });
});

describe('the signed-webhook provider', () => {
  async function webhookPeer(status = 202) {
    const peer = await startHttpPeer(() => ({ status, json: { ok: true } }));
    closers.push(peer.close);
    return peer;
  }
  const addWebhook = async (org: string, url: string, priority = 1) =>
    (
      await api('POST', '/delivery-providers', {
        type: 'webhook',
        name: `hook-${priority}`,
        channels: ['sms', 'voice'],
        priority,
        organization: org,
        config: { url, secret: WEBHOOK_SECRET },
      })
    ).body as { id: string };

  test('gets the message as signed JSON; its signature verifies, a tampered or stale one does not', async () => {
    const org = await newOrg();
    const peer = await webhookPeer();
    await addWebhook(org, `${peer.url}/sms`);
    const { message, codes } = outgoing(org, { locale: 'de' });
    const delivered = await idp.container.delivery.codes.send(message);

    const [req] = peer.received;
    expect(req!.path).toBe('/sms');
    expect(req!.headers['content-type']).toBe('application/json');
    const signature = req!.headers['x-idp-signature'] as string;
    expect(verifyPayload(WEBHOOK_SECRET, req!.body, signature, Date.now())).toBe(true);
    const body = JSON.parse(req!.body);
    expect(body).toEqual({
      id: delivered.deliveryId,
      channel: 'sms',
      to: message.to,
      message: expect.stringContaining(`${codes[0]!} ist Ihr Anmeldecode für MFA IdP`),
      code: codes[0],
      locale: 'de',
      status_callback: expect.stringMatching(/\/api\/v1\/delivery-status\//),
    });
    sentTo.push({ to: message.to, code: codes[0]! });

    expect(verifyPayload(WEBHOOK_SECRET, req!.body.replace(codes[0]!, '000000'), signature, Date.now())).toBe(false);
    expect(verifyPayload('another-secret-0123456789abcdef', req!.body, signature, Date.now())).toBe(false);
    expect(verifyPayload(WEBHOOK_SECRET, req!.body, signature, Date.now() + 10 * 60_000)).toBe(false);
  });

  test('a webhook answering 503 may have sent it: the next provider gets a new code', async () => {
    const org = await newOrg();
    const down = await webhookPeer(503);
    const good = await webhookPeer(200);
    await addWebhook(org, down.url, 1);
    await addWebhook(org, good.url, 2);
    const { message, codes } = outgoing(org, { channel: 'voice' });
    expect((await idp.container.delivery.codes.send(message)).attempt).toBe(1);
    const first = JSON.parse(down.received[0]!.body);
    const second = JSON.parse(good.received[0]!.body);
    expect([first.code, second.code]).toEqual(codes);
    expect(second.message).toContain('Once again, your code is:');
    sentTo.push({ to: message.to, code: first.code }, { to: message.to, code: second.code });
  });

  test('its signed status report updates the record; an unsigned, stale or foreign one is refused', async () => {
    const org = await newOrg();
    const peer = await webhookPeer();
    const provider = await addWebhook(org, peer.url);
    const { message } = outgoing(org);
    const { deliveryId } = await idp.container.delivery.codes.send(message);
    const url = `${idp.url}/api/v1/delivery-status/${provider.id}`;
    const post = (body: string, signature?: string) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(signature ? { 'x-idp-signature': signature } : {}) }, body });
    const status = async () => (await idp.container.db.selectFrom('deliveries').select('status').where('id', '=', deliveryId).executeTakeFirstOrThrow()).status;

    const report = JSON.stringify({ id: deliveryId, status: 'delivered' });
    expect((await post(report)).status).toBe(403);
    expect((await post(report, signPayload('another-secret-0123456789abcdef', report, Date.now()))).status).toBe(403);
    expect((await post(report, signPayload(WEBHOOK_SECRET, report, Date.now() - 10 * 60_000))).status).toBe(403);
    const tampered = JSON.stringify({ id: deliveryId, status: 'failed' });
    expect((await post(tampered, signPayload(WEBHOOK_SECRET, report, Date.now()))).status).toBe(403);
    expect(await status()).toBe('accepted');

    expect((await post(report, signPayload(WEBHOOK_SECRET, report, Date.now()))).status).toBe(204);
    expect(await status()).toBe('delivered');
    // A late "sent" does not undo "delivered".
    const late = JSON.stringify({ id: deliveryId, status: 'sent' });
    expect((await post(late, signPayload(WEBHOOK_SECRET, late, Date.now()))).status).toBe(204);
    expect(await status()).toBe('delivered');
    const bad = JSON.stringify({ id: 'not-a-uuid', status: 'sent' });
    expectJsonError(await responseOf(post(bad, signPayload(WEBHOOK_SECRET, bad, Date.now()))), 400, 'invalid_request', 'id');
  });
});

async function responseOf(p: Promise<Response>) {
  const res = await p;
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, res };
}

describe('Twilio status callbacks', () => {
  test('a report signed with the auth token updates the record; a bad or missing signature is refused', async () => {
    const org = await newOrg();
    const peer = await twilioPeer('accept');
    const provider = await addTwilio(org, peer.url, 1);
    const { message } = outgoing(org);
    const { deliveryId } = await idp.container.delivery.codes.send(message);
    const { form } = peer.forms()[0]!;
    smsOf(form);
    const callback = form.StatusCallback!;
    expect(callback).toBe(`${idp.url}/api/v1/delivery-status/${provider.id}`);
    const row = await idp.container.db.selectFrom('deliveries').selectAll().where('id', '=', deliveryId).executeTakeFirstOrThrow();
    const params = new Map([
      ['MessageSid', row.providerMessageId!],
      ['MessageStatus', 'delivered'],
      ['AccountSid', SID],
      ['To', message.to],
    ]);
    const post = (p: Map<string, string>, signature?: string) =>
      fetch(callback, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature ? { 'x-twilio-signature': signature } : {}) },
        body: new URLSearchParams([...p]).toString(),
      });
    const status = async () =>
      await idp.container.db.selectFrom('deliveries').select(['status', 'error']).where('id', '=', deliveryId).executeTakeFirstOrThrow();

    expect((await post(params)).status).toBe(403);
    expect((await post(params, twilioSignature('wrong-token-0123456789abcdef', callback, params))).status).toBe(403);
    // Signed for another URL (another provider's endpoint), or for other values.
    expect((await post(params, twilioSignature(TOKEN, `${idp.url}/api/v1/delivery-status/00000000-0000-4000-8000-000000000000`, params))).status).toBe(403);
    const tampered = new Map(params).set('MessageStatus', 'failed');
    expect((await post(tampered, twilioSignature(TOKEN, callback, params))).status).toBe(403);
    // The same parameter twice is refused rather than guessed at.
    const twice = await fetch(callback, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(TOKEN, callback, params) },
      body: `${new URLSearchParams([...params]).toString()}&MessageStatus=failed`,
    });
    expect(twice.status).toBe(403);
    const unknown = await fetch(`${idp.url}/api/v1/delivery-status/00000000-0000-4000-8000-000000000000`, { method: 'POST' });
    expect(unknown.status).toBe(403);
    expect(await status()).toEqual({ status: 'accepted', error: null });

    expect((await post(params, twilioSignature(TOKEN, callback, params))).status).toBe(204);
    expect(await status()).toEqual({ status: 'delivered', error: null });
    // A replayed or late report never moves a final status.
    const failed = new Map(params).set('MessageStatus', 'failed').set('ErrorCode', '30003');
    expect((await post(failed, twilioSignature(TOKEN, callback, failed))).status).toBe(204);
    expect(await status()).toEqual({ status: 'delivered', error: null });
  });

  test('concurrent final reports: exactly one changes the record', async () => {
    const org = await newOrg();
    const peer = await twilioPeer('accept');
    const provider = await addTwilio(org, peer.url, 1);
    const { message } = outgoing(org);
    const { deliveryId } = await idp.container.delivery.codes.send(message);
    const { form } = peer.forms()[0]!;
    smsOf(form);
    const row = await idp.container.db.selectFrom('deliveries').selectAll().where('id', '=', deliveryId).executeTakeFirstOrThrow();
    const reports = Array.from({ length: 20 }, (_, i) => {
      const params = new Map([
        ['MessageSid', row.providerMessageId!],
        ['MessageStatus', i % 2 ? 'failed' : 'delivered'],
      ]);
      return {
        rawBody: new URLSearchParams([...params]).toString(),
        contentType: 'application/x-www-form-urlencoded',
        twilioSignature: twilioSignature(TOKEN, form.StatusCallback!, params),
      };
    });
    const changed = await Promise.all(reports.map((r) => idp.container.deliveryStatus.report(provider.id, r)));
    expect(changed.filter(Boolean)).toHaveLength(1);
    const final = await idp.container.db.selectFrom('deliveries').select('status').where('id', '=', deliveryId).executeTakeFirstOrThrow();
    expect(final.status).toBe(changed.indexOf(true) % 2 ? 'failed' : 'delivered');
  });

  test('a call that was not answered is recorded as failed, with the provider error code', async () => {
    const org = await newOrg();
    const peer = await twilioPeer('accept');
    await addTwilio(org, peer.url, 1);
    const { message } = outgoing(org, { channel: 'voice' });
    const { deliveryId } = await idp.container.delivery.codes.send(message);
    const { form } = peer.forms()[0]!;
    const row = await idp.container.db.selectFrom('deliveries').selectAll().where('id', '=', deliveryId).executeTakeFirstOrThrow();
    const params = new Map([
      ['CallSid', row.providerMessageId!],
      ['CallStatus', 'no-answer'],
      ['ErrorCode', '13224'],
    ]);
    const res = await fetch(form.StatusCallback!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(TOKEN, form.StatusCallback!, params) },
      body: new URLSearchParams([...params]).toString(),
    });
    expect(res.status).toBe(204);
    expect(await idp.container.db.selectFrom('deliveries').select(['status', 'error']).where('id', '=', deliveryId).executeTakeFirstOrThrow()).toEqual({
      status: 'failed',
      error: 'provider error 13224',
    });
  });
});

describe('e-mail over SMTP', () => {
  test('an e-mail code reaches the mail server, in German, and is recorded', async () => {
    const org = await newOrg();
    const user = await newUser(idp.url, 'mailer');
    const address = `user-${process.pid}@example.test`;
    secrets.add(address);
    const { message, codes } = outgoing(org, { channel: 'email', to: address, locale: 'de', accountId: user.id, destinationId: 'dest-1' });
    const before = smtp.messages.length;
    const delivered = await idp.container.delivery.codes.send(message);
    expect(delivered.provider).toBe('smtp');

    const mail = smtp.messages[before]!;
    expect(mail.to).toEqual([address]);
    expect(mail.from).toBe('idp@example.test');
    const { subject, text } = decodeMail(mail.raw);
    expect(subject).toBe('Ihr Anmeldecode für MFA IdP');
    expect(/^ {4}(\d{6})$/m.exec(text)?.[1]).toBe(codes[0]);
    expect(text).toContain('Geben Sie ihn niemals weiter');

    const rows = await records(org);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      id: delivered.deliveryId,
      channel: 'email',
      provider: 'smtp',
      status: 'accepted',
      accountId: user.id,
      destinationId: 'dest-1',
    });
  });

  test('templates: destination-added, security-notice, recovery-link (English), with an HTML alternative of the same escaped text', async () => {
    const mail = idp.container.delivery.mail;
    const sent = async (template: string, data: Record<string, unknown>, name?: string) => {
      const before = smtp.messages.length;
      await mail.send({ to: 'someone@example.test', template, data, locale: 'en-GB', name });
      return decodeMail(smtp.messages[before]!.raw);
    };
    const added = await sent('destination-added', { type: 'phone', mask: '+49 ••• 78' }, 'Ada <b>Lovelace</b>');
    expect(added.subject).toBe('A new sign-in method was added to your MFA IdP account');
    expect(added.text).toMatch(/^Hello Ada <b>Lovelace<\/b>,\n/);
    expect(added.text).toContain('added to your MFA IdP account: the phone number +49 ••• 78.');
    expect(added.text).toContain('— MFA IdP\nThis is an automatic message from localhost.');
    expect(added.html).toContain('<html lang="en">');
    expect(added.html).toContain('Hello Ada &#60;b&#62;Lovelace&#60;/b&#62;,');
    expect(added.html).not.toContain('<b>');

    const notice = await sent('security-notice', {
      notice: 'device_trusted',
      values: { count: 30 },
      at: new Date('2026-03-04T05:06:07Z'),
      ip: '203.0.113.9\r\nBcc: evil@example.test',
    });
    expect(notice.subject).toBe('A device was trusted to skip the second factor');
    expect(notice.text).toMatch(/^Hello,\n/);
    expect(notice.text).toContain('It will not be asked for a second factor for 30 days.');
    expect(notice.text).toContain('When: March 4, 2026 at 5:06:07 AM UTC');

    const link = await sent('recovery-link', { link: 'https://localhost/recover/abc#token=x&y', minutes: 15 });
    expect(link.subject).toBe('Recover your MFA IdP account');
    expect(link.text).toContain('\n    https://localhost/recover/abc#token=x&y\n');
    expect(link.text).toContain('The link works for 15 minutes.');
    expect(link.html).toContain('<a href="https://localhost/recover/abc#token=x&#38;y">');

    await expect(mail.send({ to: 'someone@example.test', template: '../layout', data: {} })).rejects.toThrow(/no e-mail template/);
  });
});

describe('the delivery providers API', () => {
  const keys = { reader: '', writer: '', acme: '', globex: '' };
  const orgs = { acme: '', globex: '' };
  beforeAll(async () => {
    orgs.acme = await newOrg();
    orgs.globex = await newOrg();
    keys.reader = (await idp.container.apiKeys.create('reader', ['idp:read'], null)).key;
    keys.writer = (await idp.container.apiKeys.create('writer', ['idp:write'], null)).key;
    keys.acme = (await idp.container.apiKeys.create('acme', ['idp:read', 'idp:write'], orgs.acme)).key;
    keys.globex = (await idp.container.apiKeys.create('globex', ['idp:read', 'idp:write'], orgs.globex)).key;
  });
  const twilio = (over: Record<string, unknown> = {}, config: Record<string, unknown> = {}) => ({
    type: 'twilio',
    name: 'primary',
    channels: ['sms'],
    priority: 1,
    config: { account_sid: SID, auth_token: TOKEN, messaging_service_sid: `MG${'b2'.repeat(16)}`, ...config },
    ...over,
  });

  test('secrets are sealed at rest and never answered', async () => {
    const created = await api('POST', '/delivery-providers', twilio({ organization: orgs.acme }), keys.writer);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      type: 'twilio',
      name: 'primary',
      channels: ['sms'],
      priority: 1,
      enabled: true,
      organization: orgs.acme,
      config: { account_sid: SID, messaging_service_sid: `MG${'b2'.repeat(16)}`, base_url: 'https://api.twilio.com' },
      has_secret: true,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const id = created.body.id as string;
    for (const r of [
      created,
      await api('GET', `/delivery-providers/${id}`, undefined, keys.reader),
      await api('GET', '/delivery-providers', undefined, keys.reader),
    ])
      expect(r.text).not.toContain(TOKEN);
    const row = await idp.container.db.selectFrom('deliveryProviders').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(TOKEN);
    expect(idp.container.box.open(row.secretSealed)).toBe(TOKEN);

    // A change to another field keeps the secret; a new one replaces it; neither is answered.
    const renamed = await api('PATCH', `/delivery-providers/${id}`, { name: 'renamed', config: { from: '+15005550006' } }, keys.writer);
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'renamed', config: { from: '+15005550006', account_sid: SID }, has_secret: true });
    expect(
      idp.container.box.open(
        (await idp.container.db.selectFrom('deliveryProviders').select('secretSealed').where('id', '=', id).executeTakeFirstOrThrow()).secretSealed,
      ),
    ).toBe(TOKEN);
    const rotated = await api('PATCH', `/delivery-providers/${id}`, { config: { auth_token: 'a-new-auth-token-0123456789' } }, keys.writer);
    expect(rotated.text).not.toContain('a-new-auth-token');
    expect(
      idp.container.box.open(
        (await idp.container.db.selectFrom('deliveryProviders').select('secretSealed').where('id', '=', id).executeTakeFirstOrThrow()).secretSealed,
      ),
    ).toBe('a-new-auth-token-0123456789');

    const audits = await idp.container.db.selectFrom('auditEvents').selectAll().where('subject', '=', id).orderBy('id').execute();
    expect(audits.map((a) => a.type)).toEqual(['admin.delivery_provider.created', 'admin.delivery_provider.updated', 'admin.delivery_provider.updated']);
    expect(JSON.stringify(audits)).not.toMatch(/a-new-auth-token|twilio-auth-token/);

    expect((await api('DELETE', `/delivery-providers/${id}`, undefined, keys.writer)).status).toBe(204);
    expectJsonError(await api('GET', `/delivery-providers/${id}`), 404, 'not_found');
  });

  test.each([
    [{ type: 'sms-gateway' }, 'type'],
    [{ channels: ['email'] }, 'channels.0'],
    [{ channels: [] }, 'channels'],
    [{ channels: ['sms', 'sms'] }, 'channels'],
    [{ priority: 1.5 }, 'priority'],
    [{ name: '' }, 'name'],
    [{ extra: true }, 'extra'],
    [{ organization: 'acme' }, 'organization'],
    [{ config: { account_sid: 'AC123', auth_token: TOKEN, from: '+15005550006' } }, 'config.account_sid'],
    [{ config: { account_sid: SID, auth_token: 'short', from: '+15005550006' } }, 'config.auth_token'],
    [{ config: { account_sid: SID, auth_token: TOKEN } }, 'config.from'],
    [{ config: { account_sid: SID, auth_token: TOKEN, from: '+15005550006', base_url: 'ftp://example.test' } }, 'config.base_url'],
    [{ config: { account_sid: SID, auth_token: TOKEN, from: '+15005550006', secret: 'x' } }, 'config.secret'],
    [{ channels: ['voice'] }, 'config.from'],
    [{ type: 'webhook', config: { url: 'http://127.0.0.1/x', secret: 'too-short' } }, 'config.secret'],
    [{ type: 'webhook', config: { url: 'javascript:alert(1)', secret: WEBHOOK_SECRET } }, 'config.url'],
    [{ name: 'bad\u0000name' }, 'name'],
  ])('%j is refused with a 400 naming %s', async (over, field) => {
    const before = (await api('GET', '/delivery-providers')).body.providers.length;
    expectJsonError(await api('POST', '/delivery-providers', { ...twilio(), ...over }), 400, 'invalid_request', field);
    expect((await api('GET', '/delivery-providers')).body.providers.length).toBe(before);
  });

  test('a PATCH is validated like a creation, the type and organisation stay fixed', async () => {
    const id = (await api('POST', '/delivery-providers', twilio())).body.id as string;
    expectJsonError(await api('PATCH', `/delivery-providers/${id}`, { config: { account_sid: 'nope' } }), 400, 'invalid_request', 'config.account_sid');
    expectJsonError(await api('PATCH', `/delivery-providers/${id}`, { config: { url: 'http://x.test' } }), 400, 'invalid_request', 'config.url');
    expectJsonError(await api('PATCH', `/delivery-providers/${id}`, { channels: ['voice'] }), 400, 'invalid_request', 'config.from');
    expectJsonError(await api('PATCH', `/delivery-providers/${id}`, { type: 'webhook' }), 400, 'invalid_request', 'type');
    expectJsonError(await api('PATCH', `/delivery-providers/${id}`, { organization: orgs.acme }), 400, 'invalid_request', 'organization');
    expectJsonError(await api('PATCH', '/delivery-providers/not-a-uuid', { name: 'x' }), 400, 'invalid_request', 'id');
    await api('DELETE', `/delivery-providers/${id}`);
  });

  test('idp:write changes, idp:read reads; no key, no access', async () => {
    expectJsonError(await api('POST', '/delivery-providers', twilio(), keys.reader), 403, 'insufficient_scope');
    expectJsonError(await api('GET', '/delivery-providers', undefined, keys.writer), 403, 'insufficient_scope');
    expectJsonError(await api('GET', '/deliveries', undefined, keys.writer), 403, 'insufficient_scope');
    expectJsonError(await api('GET', '/delivery-providers', undefined, null), 401, 'invalid_token');
  });

  test("an organisation's key sees and changes only its organisation's providers", async () => {
    const acme = await api('POST', '/delivery-providers', twilio({ name: 'acme sms' }), keys.acme);
    expect(acme.body.organization).toBe(orgs.acme);
    const global = await api('POST', '/delivery-providers', twilio({ name: 'global sms' }));
    expect(global.body.organization).toBeNull();
    expectJsonError(await api('POST', '/delivery-providers', twilio({ organization: orgs.globex }), keys.acme), 404, 'not_found');
    expectJsonError(await api('POST', '/delivery-providers', twilio({ organization: '00000000-0000-4000-8000-000000000000' })), 404, 'not_found');

    const names = async (key: string) => ((await api('GET', '/delivery-providers', undefined, key)).body.providers as { name: string }[]).map((p) => p.name);
    expect(await names(keys.acme)).toEqual(['acme sms']);
    expect(await names(keys.globex)).toEqual([]);
    expect(await names(keys.reader)).toEqual(expect.arrayContaining(['acme sms', 'global sms']));
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { name: 'mine now' }],
      ['DELETE', undefined],
    ] as const) {
      expectJsonError(await api(method, `/delivery-providers/${acme.body.id as string}`, body, keys.globex), 404, 'not_found');
      expectJsonError(await api(method, `/delivery-providers/${global.body.id as string}`, body, keys.acme), 404, 'not_found');
    }
    for (const p of [acme, global]) expect((await api('DELETE', `/delivery-providers/${p.body.id as string}`)).status).toBe(204);
  });

  test('GET /deliveries lists attempts by user, newest first, confined to the organisation, never a number', async () => {
    const peer = await twilioPeer(() => 'accept');
    await addTwilio(orgs.acme, peer.url, 1);
    const user = await newUser(idp.url, 'listed', { organization: (await idp.container.organizations.findById(orgs.acme))!.slug });
    const { message } = outgoing(orgs.acme, { accountId: user.id, destinationId: 'phone-1' });
    const first = await idp.container.delivery.codes.send(message);
    const second = await idp.container.delivery.codes.send({ ...message, code: newCode() });
    peer.forms().forEach((f) => smsOf(f.form));

    const list = await api('GET', `/deliveries?user_id=${user.id}&limit=10`, undefined, keys.acme);
    expect(list.status).toBe(200);
    expect(list.body.deliveries.map((d: { id: string }) => d.id)).toEqual([second.deliveryId, first.deliveryId]);
    expect(list.body.deliveries[0]).toEqual({
      id: second.deliveryId,
      organization: orgs.acme,
      user_id: user.id,
      destination_id: 'phone-1',
      channel: 'sms',
      provider: 'twilio-1',
      provider_id: expect.any(String),
      status: 'accepted',
      provider_message_id: expect.stringMatching(/^SM/),
      error: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(list.text).not.toContain(message.to);
    expect(list.text).not.toContain(message.to.slice(1));
    expect((await api('GET', `/deliveries?user_id=${user.id}&limit=1`, undefined, keys.acme)).body.deliveries).toHaveLength(1);
    expect((await api('GET', `/deliveries?user_id=${user.id}`, undefined, keys.globex)).body.deliveries).toEqual([]);
    expectJsonError(await api('GET', '/deliveries?limit=1000'), 400, 'invalid_request', 'limit');
    expectJsonError(await api('GET', '/deliveries?user_id=x'), 400, 'invalid_request', 'user_id');
  });
});

test('records older than the retention period are pruned, newer ones stay', async () => {
  const org = await newOrg();
  const base = {
    organizationId: org,
    accountId: null,
    destinationId: null,
    channel: 'sms' as const,
    providerId: null,
    provider: 'p',
    status: 'accepted' as const,
    providerMessageId: null,
    error: null,
  };
  await idp.container.db
    .insertInto('deliveries')
    .values([
      { ...base, id: randomUUID(), createdAt: new Date(Date.now() - 91 * 86_400_000) },
      { ...base, id: randomUUID(), createdAt: new Date(Date.now() - 89 * 86_400_000) },
    ])
    .execute();
  expect(await createDeliveryRepository(idp.container.db).prune(new Date(Date.now() - 90 * 86_400_000))).toBeGreaterThanOrEqual(1);
  expect(await records(org)).toHaveLength(1);
});

describe('across the file', () => {
  test('no phone number ever received the same code twice', () => {
    const pairs = sentTo.map((s) => `${s.to}:${s.code}`);
    expect(sentTo.length).toBeGreaterThan(10);
    expect(sentTo.every((s) => /^\d{6}$/.test(s.code))).toBe(true);
    expect(new Set(pairs).size).toBe(pairs.length);
  });

  test('no code, number, address or provider secret in any log line; the outcomes are counted', async () => {
    expect(log.lines.length).toBeGreaterThan(0);
    expect(log.lines.some((l) => l.includes('a delivery provider did not take the message'))).toBe(true);
    // A bare code is looked for as a whole token: a timestamp or an id may hold the same digits by chance.
    const leaks = (line: string, secret: string) =>
      /^\d+$/.test(secret) ? new RegExp(`(?<![0-9A-Za-z])${secret}(?![0-9A-Za-z])`).test(line) : line.includes(secret);
    for (const line of log.lines) for (const secret of secrets) if (secret) expect(leaks(line, secret)).toBe(false);
    const metrics = await idp.container.metrics.registry.getSingleMetricAsString('idp_deliveries_total');
    expect(metrics).toMatch(/idp_deliveries_total\{channel="sms",provider="twilio-20",outcome="accepted"\} 1/);
    expect(metrics).toMatch(/idp_deliveries_total\{channel="voice",provider="twilio-1",outcome="accepted"\} \d+/);
    expect(metrics).toMatch(/idp_deliveries_total\{channel="email",provider="smtp",outcome="accepted"\} \d+/);
  });
});
