import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { SMTPServer } from 'smtp-server';

/** What a peer saw of one request. */
export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Behaviour = 'accept' | 'error500' | 'refuse400' | 'hang';

/** An HTTP peer on port 0 that records each request and answers as `behaviour` says (changeable). */
export async function startHttpPeer(answer: (req: Received) => { status: number; json?: unknown } | 'hang') {
  const received: Received[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const r = { path: req.url ?? '', headers: req.headers, body };
      received.push(r);
      const a = answer(r);
      if (a === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(a.json === undefined ? '' : JSON.stringify(a.json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let sids = 0;
/** A Twilio-compatible REST API: Messages.json and Calls.json under an account, answering as `behaviour()` says. */
export async function startTwilioPeer(behaviour: () => Behaviour) {
  const peer = await startHttpPeer(() => {
    switch (behaviour()) {
      case 'accept':
        return { status: 201, json: { sid: `SM${String(++sids).padStart(32, '0')}`, status: 'queued' } };
      case 'error500':
        return { status: 500, json: { code: 20500, message: 'Internal Server Error', status: 500 } };
      case 'refuse400':
        return { status: 400, json: { code: 21211, message: "The 'To' number +15005550001 is not a valid phone number.", status: 400 } };
      case 'hang':
        return 'hang';
    }
  });
  return {
    ...peer,
    /** The form fields of each request. */
    forms: () => peer.received.map((r) => ({ path: r.path, auth: r.headers.authorization, form: Object.fromEntries(new URLSearchParams(r.body)) })),
  };
}

/** A mail server on port 0 (no TLS, no auth) keeping each message's raw text. */
export async function startSmtpPeer() {
  const messages: { from: string; to: string[]; raw: string }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.pipe(
        new Writable({
          write(chunk: Buffer, _enc, done) {
            raw += chunk.toString('utf8');
            done();
          },
          final(done) {
            messages.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              raw,
            });
            done();
            callback();
          },
        }),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Every log line, for checking that no code, number or address is written. */
export function logSink() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, sink };
}

/**
 * The subject and the decoded parts of a raw message as nodemailer writes it: one text part, or
 * multipart/alternative (text and HTML); quoted-printable or base64 bodies, RFC 2047 subject words.
 */
export function decodeMail(raw: string): { subject: string; text: string; html?: string } {
  const entity = (s: string) => {
    const [head, ...body] = s.replace(/\r\n/g, '\n').split('\n\n');
    return { head: head!.replace(/\n[ \t]+/g, ' '), body: body.join('\n\n') };
  };
  const qp = (s: string) =>
    Buffer.from(
      s.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
      'latin1',
    ).toString('utf8');
  const decoded = (e: { head: string; body: string }) =>
    /transfer-encoding:\s*quoted-printable/i.test(e.head)
      ? qp(e.body)
      : /transfer-encoding:\s*base64/i.test(e.head)
        ? Buffer.from(e.body, 'base64').toString('utf8')
        : e.body;
  const top = entity(raw);
  const subject = /^Subject: (.*)$/m.exec(top.head)![1]!.replace(/=\?UTF-8\?Q\?([^?]*)\?=\s*/gi, (_, w: string) => qp(w.replace(/_/g, ' ')));
  const boundary = /boundary="?([^";\n]+)"?/i.exec(top.head)?.[1];
  if (!boundary) return { subject, text: decoded(top) };
  const parts = top.body
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((p) => entity(p.replace(/^\n/, '').replace(/\n$/, '')));
  const part = (type: string) => parts.find((p) => new RegExp(`content-type:\\s*${type}`, 'i').test(p.head));
  const html = part('text/html');
  return { subject, text: decoded(part('text/plain')!), ...(html ? { html: decoded(html) } : {}) };
}
