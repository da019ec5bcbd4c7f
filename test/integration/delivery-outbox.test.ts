/**
 * With no SMTP server and no SMS provider configured, codes and e-mails go to the outbox (one file per
 * message under the data directory): start-up and each message say so in the log, without the code,
 * the number or the address.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/lib/logger.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { logSink } from '../helpers/delivery-peers.js';

let idp: TestIdp;
let dataDir: string;
const log = logSink();

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'idp-outbox-'));
  idp = await startTestIdp('delivery-outbox', 'postgres', { logLevel: 'info', dataDir }, { logger: createLogger('info', log.sink) });
});
afterAll(async () => {
  await idp.stop();
  await rm(dataDir, { recursive: true, force: true });
});

test('start-up says e-mails are not sent', () => {
  expect(log.lines.some((l) => l.includes('no SMTP server is configured (SMTP_URL): e-mails are written to the outbox, not sent'))).toBe(true);
});

test('an SMS code and an e-mail code land in the outbox; the log names the file, not the code or the destination', async () => {
  const org = (await idp.container.db.selectFrom('organizations').select('id').executeTakeFirstOrThrow()).id;
  const sms = await idp.container.delivery.codes.send({ channel: 'sms', to: '+4915112345678', code: '482913', purpose: 'sign_in', organizationId: org });
  expect(sms.provider).toBe('outbox');
  const mail = await idp.container.delivery.codes.send({
    channel: 'email',
    to: 'person@example.test',
    code: '739204',
    purpose: 'recovery',
    organizationId: org,
  });
  expect(mail.provider).toBe('outbox');

  const files = await readdir(path.join(dataDir, 'outbox'));
  expect(files).toHaveLength(2);
  const contents = await Promise.all(files.map((f) => readFile(path.join(dataDir, 'outbox', f), 'utf8')));
  expect(contents.join()).toContain('482913');
  expect(contents.join()).toContain('739204');

  const notes = log.lines.filter((l) => l.includes('written to the outbox, not sent'));
  expect(notes.length).toBeGreaterThanOrEqual(3);
  for (const line of log.lines)
    for (const secret of ['482913', '739204', '+4915112345678', '4915112345678', 'person@example.test']) expect(line).not.toContain(secret);
  // The e-mail code is recorded as delivered to the outbox, the number-less way every attempt is.
  const rows = await idp.container.db.selectFrom('deliveries').selectAll().execute();
  expect(rows.map((r) => [r.channel, r.provider, r.status])).toEqual([['email', 'outbox', 'accepted']]);
});
