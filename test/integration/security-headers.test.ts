import { startTestIdp, type TestIdp } from '../helpers/env.js';

let idp: TestIdp;
beforeAll(async () => {
  idp = await startTestIdp('security-headers');
});
afterAll(async () => {
  await idp.stop();
});

test('HTML pages (error pages included) carry CSP, framing and referrer protection', async () => {
  const res = await fetch(`${idp.url}/interaction/unknownuid123`, { headers: { accept: 'text/html' } });
  expect(res.status).toBe(400);
  expect(res.headers.get('content-type')).toMatch(/text\/html/);
  expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
  expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'self'");
  expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
});

test('JSON answers are marked nosniff', async () => {
  const res = await fetch(`${idp.url}/api/v1/clients`);
  expect(res.status).toBe(401);
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  const token = await fetch(`${idp.url}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials' }) });
  expect(token.headers.get('x-content-type-options')).toBe('nosniff');
});
