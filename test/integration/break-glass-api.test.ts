/**
 * The break-glass API: a request needs its own scope, an approval another key (or the
 * organisation's self-approval setting, flagged), one of concurrent approvals wins, grants of
 * other organisations answer 404, ended grants wait for one review, and a grant whose audit record
 * cannot be written is not made.
 */
import { apiClient, expectJsonError } from '../helpers/api.js';
import { activeGrant, breakGlassKeys, grantRequest, refuseBreakGlassAudit } from '../helpers/break-glass.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';
import { FakeClock, MINUTE, newUser } from '../helpers/mfa-flow.js';

let idp: TestIdp;
const clock = new FakeClock();
const api = apiClient(() => idp.url);
let keys: Awaited<ReturnType<typeof breakGlassKeys>>;
let acme: { id: string; keys: Awaited<ReturnType<typeof breakGlassKeys>> };
let globexKeys: Awaited<ReturnType<typeof breakGlassKeys>>;

beforeAll(async () => {
  idp = await startTestIdp('break-glass-api', 'postgres+redis', {}, { clock });
  keys = await breakGlassKeys(idp);
  const org = async (slug: string) => {
    const r = await api('POST', '/organizations', { slug });
    expect(r.status).toBe(201);
    return r.body.organization.id as string;
  };
  const acmeId = await org('acme');
  acme = { id: acmeId, keys: await breakGlassKeys(idp, acmeId) };
  globexKeys = await breakGlassKeys(idp, await org('globex'));
});
afterAll(async () => {
  await idp.stop();
});
afterEach(() => clock.reset());

const grantRows = (userId: string) => idp.container.db.selectFrom('breakGlassGrants').selectAll().where('userId', '=', userId).execute();
const auditOf = (grantId: string, type?: string) => {
  let q = idp.container.db.selectFrom('auditEvents').select(['type', 'data', 'actor']).where('subject', '=', grantId);
  if (type) q = q.where('type', '=', type);
  return q.orderBy('id').execute();
};

describe('request', () => {
  test('answers 201 with a pending grant, set by the server alone', async () => {
    const user = await newUser(idp.url, 'bg-req');
    const r = await api('POST', '/break-glass', grantRequest(user.id), keys.requester);
    expect(r.status).toBe(201);
    expect(r.body.break_glass).toMatchObject({
      id: expect.any(String),
      user_id: user.id,
      status: 'pending_approval',
      pending_review: false,
      reason: grantRequest(user.id).reason,
      duration: 600,
      permissions: ['db.admin', 'incident:commander'],
      requested_by: expect.stringMatching(/^apikey:/),
      requested_at: expect.any(String),
      starts_at: null,
      expires_at: null,
      self_approved: false,
    });
    const events = await auditOf(r.body.break_glass.id);
    expect(events.map((e) => e.type)).toEqual(['break_glass.requested']);
  });

  test('needs the break_glass:request scope: another scope is 403', async () => {
    const user = await newUser(idp.url, 'bg-scope');
    const { key: writer } = await idp.container.apiKeys.create('writer', ['idp:read', 'idp:write']);
    expectJsonError(await api('POST', '/break-glass', grantRequest(user.id), writer), 403, 'insufficient_scope');
    expectJsonError(await api('POST', '/break-glass', grantRequest(user.id), keys.approver), 403, 'insufficient_scope');
    expectJsonError(await api('GET', '/break-glass', undefined, writer), 403, 'insufficient_scope');
    // admin holds every scope
    const made = await api('POST', '/break-glass', grantRequest(user.id));
    expect(made.status).toBe(201);
    expect(await grantRows(user.id)).toHaveLength(1);
    // approving, denying, revoking and reviewing need break_glass:approve
    const id = made.body.break_glass.id as string;
    for (const [method, path] of [
      ['POST', `/break-glass/${id}/approve`],
      ['POST', `/break-glass/${id}/deny`],
      ['DELETE', `/break-glass/${id}`],
      ['POST', `/break-glass/${id}/review`],
    ] as const) {
      expectJsonError(await api(method, path, method === 'DELETE' ? undefined : {}, keys.requester), 403, 'insufficient_scope');
      expectJsonError(await api(method, path, method === 'DELETE' ? undefined : {}, writer), 403, 'insufficient_scope');
    }
    expect((await grantRows(user.id))[0]!.status).toBe('pending_approval');
  });

  test('a duration over the configured maximum, an empty reason, bad or too many permissions are 400', async () => {
    const user = await newUser(idp.url, 'bg-bad');
    const max = idp.container.config.breakGlass.maxDurationSeconds;
    expectJsonError(await api('POST', '/break-glass', grantRequest(user.id, { duration: max + 1 }), keys.requester), 400, 'invalid_request', 'duration');
    expect((await api('POST', '/break-glass', grantRequest(user.id, { duration: max }), keys.requester)).status).toBe(201);
    for (const [field, value] of [
      ['duration', 0],
      ['duration', 1.5],
      ['reason', '   '],
      ['reason', 'x'.repeat(1001)],
      ['reason', 'line\u0000break'],
      ['permissions', []],
      ['permissions', ['ok', 'ok']],
      ['permissions', ['has space']],
      ['permissions', ["x'; drop table users;--"]],
      ['permissions', Array.from({ length: 21 }, (_, i) => `p${i}`)],
      ['user_id', 'not-a-uuid'],
    ] as const) {
      const r = await api('POST', '/break-glass', grantRequest(user.id, { [field]: value }), keys.requester);
      expectJsonError(r, 400, 'invalid_request', field);
    }
    expect(await grantRows(user.id)).toHaveLength(1);
  });

  test('mass assignment: a body naming status, approver or times is refused and nothing is stored', async () => {
    const user = await newUser(idp.url, 'bg-mass');
    for (const extra of [
      { status: 'active' },
      { approved_by: 'apikey:me' },
      { decided_by: 'x' },
      { expires_at: '2099-01-01T00:00:00Z' },
      { self_approved: true },
    ]) {
      const r = await api('POST', '/break-glass', grantRequest(user.id, extra), keys.requester);
      expectJsonError(r, 400, 'invalid_request', Object.keys(extra)[0]);
    }
    expect(await grantRows(user.id)).toHaveLength(0);
  });
});

describe('approval', () => {
  test("the requester's own key is refused (403), unless the organisation allows self-approval, which is flagged", async () => {
    const user = await newUser(idp.url, 'bg-self', { organization: 'acme' });
    const first = await api('POST', '/break-glass', grantRequest(user.id), acme.keys.both);
    expect(first.status).toBe(201);
    const id = first.body.break_glass.id as string;
    expectJsonError(await api('POST', `/break-glass/${id}/approve`, undefined, acme.keys.both), 403, 'self_approval_refused');
    expect((await grantRows(user.id))[0]!.status).toBe('pending_approval');
    const refusals = await auditOf(id, 'break_glass.approval_refused');
    expect(refusals.map((e) => e.data)).toEqual([expect.objectContaining({ reason: 'same_key_as_requester' })]);
    // nothing in the approval's body sets anything
    expectJsonError(await api('POST', `/break-glass/${id}/approve`, { self_approved: false }, acme.keys.approver), 400, 'invalid_request', 'self_approved');
    expectJsonError(await api('POST', `/break-glass/${id}/deny`, { status: 'approved' }, acme.keys.approver), 400, 'invalid_request', 'status');
    expect((await grantRows(user.id))[0]!.status).toBe('pending_approval');

    expect((await api('PATCH', '/organizations/acme/settings', { break_glass: { allow_self_approval: true } })).status).toBe(200);
    try {
      const r = await api('POST', `/break-glass/${id}/approve`, undefined, acme.keys.both);
      expect(r.status).toBe(200);
      expect(r.body.break_glass).toMatchObject({ status: 'active', self_approved: true });
      const [approved] = await auditOf(id, 'break_glass.approved');
      expect(approved!.data).toMatchObject({ self_approved: true, grant_id: id });
    } finally {
      await api('PATCH', '/organizations/acme/settings', { break_glass: { allow_self_approval: false } });
    }
  });

  test('another key approves: active from now for its duration; approving again is 409', async () => {
    const user = await newUser(idp.url, 'bg-approve');
    const requested = await api('POST', '/break-glass', grantRequest(user.id, { duration: 900 }), keys.requester);
    const id = requested.body.break_glass.id as string;
    const before = clock.now();
    const r = await api('POST', `/break-glass/${id}/approve`, undefined, keys.approver);
    expect(r.status).toBe(200);
    const g = r.body.break_glass;
    expect(g).toMatchObject({ status: 'active', self_approved: false, decided_by: expect.stringMatching(/^apikey:/) });
    const starts = Date.parse(g.starts_at);
    expect(starts).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(g.expires_at) - starts).toBe(900_000);
    expectJsonError(await api('POST', `/break-glass/${id}/approve`, undefined, keys.reviewer), 409, 'conflict');
    expectJsonError(await api('POST', `/break-glass/${id}/deny`, undefined, keys.reviewer), 409, 'conflict');
  });

  test('of concurrent approvals by different keys exactly one wins, with one audit event', async () => {
    const user = await newUser(idp.url, 'bg-race');
    const id = (await api('POST', '/break-glass', grantRequest(user.id), keys.requester)).body.break_glass.id as string;
    const approvers = await Promise.all(Array.from({ length: 6 }, (_, i) => idp.container.apiKeys.create(`racer-${i}`, ['break_glass:approve'])));
    const answers = await Promise.all(approvers.map(({ key }) => api('POST', `/break-glass/${id}/approve`, undefined, key)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    expect(await auditOf(id, 'break_glass.approved')).toHaveLength(1);
  });

  test('a denied, revoked or expired grant cannot be approved (409)', async () => {
    const user = await newUser(idp.url, 'bg-ended');
    const denied = (await api('POST', '/break-glass', grantRequest(user.id), keys.requester)).body.break_glass.id as string;
    expect((await api('POST', `/break-glass/${denied}/deny`, undefined, keys.approver)).body.break_glass.status).toBe('denied');
    expectJsonError(await api('POST', `/break-glass/${denied}/approve`, undefined, keys.approver), 409, 'conflict');
    // a denied grant was never active: it cannot be revoked or reviewed
    expectJsonError(await api('DELETE', `/break-glass/${denied}`, undefined, keys.approver), 409, 'conflict');
    expectJsonError(await api('POST', `/break-glass/${denied}/review`, { outcome: 'appropriate' }, keys.reviewer), 409, 'conflict');

    const revoked = await activeGrant(idp, keys, user.id);
    expect((await api('DELETE', `/break-glass/${revoked.id}`, undefined, keys.approver)).body.break_glass.status).toBe('revoked');
    expectJsonError(await api('POST', `/break-glass/${revoked.id}/approve`, undefined, keys.reviewer), 409, 'conflict');
    expectJsonError(await api('DELETE', `/break-glass/${revoked.id}`, undefined, keys.approver), 409, 'conflict');

    const expiring = await activeGrant(idp, keys, user.id, { duration: 60 });
    clock.advance(61_000);
    expect((await api('GET', `/break-glass/${expiring.id}`, undefined, keys.approver)).body.break_glass.status).toBe('expired');
    expectJsonError(await api('POST', `/break-glass/${expiring.id}/approve`, undefined, keys.reviewer), 409, 'conflict');
    expectJsonError(await api('DELETE', `/break-glass/${expiring.id}`, undefined, keys.approver), 409, 'conflict');
  });
});

describe('organisation confinement', () => {
  test("another organisation's key gets 404 for the grant and for the user, like an unknown id", async () => {
    const user = await newUser(idp.url, 'bg-org', { organization: 'acme' });
    const requested = await api('POST', '/break-glass', grantRequest(user.id), acme.keys.requester);
    expect(requested.status).toBe(201);
    const id = requested.body.break_glass.id as string;
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const target of [id, unknown]) {
      expectJsonError(await api('GET', `/break-glass/${target}`, undefined, globexKeys.approver), 404, 'not_found');
      expectJsonError(await api('POST', `/break-glass/${target}/approve`, undefined, globexKeys.approver), 404, 'not_found');
      expectJsonError(await api('POST', `/break-glass/${target}/deny`, undefined, globexKeys.approver), 404, 'not_found');
      expectJsonError(await api('DELETE', `/break-glass/${target}`, undefined, globexKeys.approver), 404, 'not_found');
      expectJsonError(await api('POST', `/break-glass/${target}/review`, { outcome: 'appropriate' }, globexKeys.approver), 404, 'not_found');
    }
    expectJsonError(await api('POST', '/break-glass', grantRequest(user.id), globexKeys.requester), 404, 'not_found');
    expectJsonError(await api('POST', '/break-glass', grantRequest(unknown), globexKeys.requester), 404, 'not_found');
    const listed = await api('GET', '/break-glass?limit=200', undefined, globexKeys.approver);
    expect(listed.status).toBe(200);
    expect(listed.body.break_glass.map((g: { id: string }) => g.id)).not.toContain(id);
    expect((await grantRows(user.id))[0]!.status).toBe('pending_approval');
    // the organisation's own approver reaches it
    expect((await api('POST', `/break-glass/${id}/approve`, undefined, acme.keys.approver)).status).toBe(200);
  });
});

describe('review', () => {
  test('an ended grant waits in pending_review until its one review, by another key than the requester', async () => {
    const user = await newUser(idp.url, 'bg-review');
    const g = await activeGrant(idp, keys, user.id, { duration: 120 });
    const pending = async () =>
      (await api('GET', '/break-glass?status=pending_review&limit=200', undefined, keys.reviewer)).body.break_glass.map((x: { id: string }) => x.id);
    expect(await pending()).not.toContain(g.id);
    expectJsonError(await api('POST', `/break-glass/${g.id}/review`, { outcome: 'appropriate' }, keys.reviewer), 409, 'conflict'); // still active
    expect((await api('GET', '/break-glass?status=active&limit=200', undefined, keys.reviewer)).body.break_glass.map((x: { id: string }) => x.id)).toContain(
      g.id,
    );

    clock.advance(2 * MINUTE + 1000); // no job runs: the clock alone ends it
    expect(await pending()).toContain(g.id);
    expect((await api('GET', '/break-glass?status=expired&limit=200', undefined, keys.reviewer)).body.break_glass.map((x: { id: string }) => x.id)).toContain(
      g.id,
    );
    expectJsonError(await api('POST', `/break-glass/${g.id}/review`, { outcome: 'appropriate' }, keys.requester), 403, 'insufficient_scope');
    const { key: requesterWithApprove } = await idp.container.apiKeys.create('req+approve', ['break_glass:request', 'break_glass:approve']);
    const own = await api('POST', '/break-glass', grantRequest(user.id, { duration: 60 }), requesterWithApprove);
    await api('POST', `/break-glass/${own.body.break_glass.id}/approve`, undefined, keys.approver);
    clock.advance(MINUTE + 1000);
    expectJsonError(
      await api('POST', `/break-glass/${own.body.break_glass.id}/review`, { outcome: 'appropriate' }, requesterWithApprove),
      403,
      'self_review_refused',
    );
    expectJsonError(await api('POST', `/break-glass/${g.id}/review`, { outcome: 'fine' }, keys.reviewer), 400, 'invalid_request', 'outcome');
    expectJsonError(
      await api('POST', `/break-glass/${g.id}/review`, { outcome: 'appropriate', reviewed_by: 'me' }, keys.reviewer),
      400,
      'invalid_request',
      'reviewed_by',
    );

    const reviews = await Promise.all(
      [keys.reviewer, keys.approver].map((k) => api('POST', `/break-glass/${g.id}/review`, { outcome: 'inappropriate', notes: 'no incident ticket' }, k)),
    );
    expect(reviews.map((r) => r.status).sort()).toEqual([200, 409]);
    const done = reviews.find((r) => r.status === 200)!.body.break_glass;
    expect(done).toMatchObject({ status: 'expired', pending_review: false, review: { outcome: 'inappropriate', notes: 'no incident ticket' } });
    expect(await pending()).not.toContain(g.id);
    expect(await auditOf(g.id, 'break_glass.reviewed')).toHaveLength(1);
  });

  test('a revoked grant waits for review too; the list pages with a cursor', async () => {
    const user = await newUser(idp.url, 'bg-list');
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const g = await activeGrant(idp, keys, user.id);
      expect((await api('DELETE', `/break-glass/${g.id}`, undefined, keys.approver)).status).toBe(200);
      ids.push(g.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await api('GET', `/break-glass?status=pending_review&limit=2${cursor ? `&cursor=${cursor}` : ''}`, undefined, keys.reviewer);
      expect(r.status).toBe(200);
      expect(r.body.break_glass.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.break_glass.map((g: { id: string }) => g.id));
      cursor = r.body.next_cursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of ids) expect(seen).toContain(id);
    expectJsonError(await api('GET', '/break-glass?cursor=bm90LWEtY3Vyc29y', undefined, keys.reviewer), 400, 'invalid_request', 'cursor');
    expectJsonError(await api('GET', '/break-glass?status=whatever', undefined, keys.reviewer), 400, 'invalid_request', 'status');
    expectJsonError(await api('GET', '/break-glass?limit=100000', undefined, keys.reviewer), 400, 'invalid_request', 'limit');
  });
});

describe('notifications and metrics', () => {
  test('notify_admins writes break_glass.notification at request and approval, listed by the audit API', async () => {
    const user = await newUser(idp.url, 'bg-notify');
    const g = await activeGrant(idp, keys, user.id, { notify_admins: true });
    const r = await api('GET', `/audit-events?type=break_glass.notification&subject=${g.id}`);
    expect(r.status).toBe(200);
    expect(r.body.events.map((e: { data: { stage: string } }) => e.data.stage)).toEqual(['requested', 'approved']);
    const quiet = await activeGrant(idp, keys, user.id);
    expect((await api('GET', `/audit-events?type=break_glass.notification&subject=${quiet.id}`)).body.events).toHaveLength(0);
    const metrics = await idp.container.metrics.registry.getSingleMetricAsString('idp_break_glass_total');
    expect(metrics).toMatch(/idp_break_glass_total\{event="requested"\} \d+/);
    expect(metrics).toMatch(/idp_break_glass_total\{event="approved"\} \d+/);
  });
});

test('grant states are counted from the database at each scrape: an expiry shows with no job', async () => {
  const gauge = async () => {
    const metric = await idp.container.metrics.registry.getSingleMetric('idp_break_glass_grants')!.get();
    return Object.fromEntries(metric.values.map((v) => [v.labels.state, v.value]));
  };
  const user = await newUser(idp.url, 'bg-gauge');
  const before = await gauge();
  await activeGrant(idp, keys, user.id, { duration: 60 });
  const during = await gauge();
  expect(during.active).toBe(before.active! + 1);
  clock.advance(61_000);
  const after = await gauge();
  expect(after.expired! - during.expired!).toBeGreaterThanOrEqual(1);
  expect(after.pending_review! - during.pending_review!).toBeGreaterThanOrEqual(1);
});

describe('fail closed', () => {
  test('a grant whose audit record cannot be written is neither created nor approved', async () => {
    const user = await newUser(idp.url, 'bg-audit');
    const pending = (await api('POST', '/break-glass', grantRequest(user.id), keys.requester)).body.break_glass.id as string;
    const lift = await refuseBreakGlassAudit(idp);
    try {
      const refused = await api('POST', '/break-glass', grantRequest(user.id), keys.requester);
      expect(refused.status).toBeGreaterThanOrEqual(500);
      const approval = await api('POST', `/break-glass/${pending}/approve`, undefined, keys.approver);
      expect(approval.status).toBeGreaterThanOrEqual(500);
    } finally {
      await lift();
    }
    const rows = await grantRows(user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: pending, status: 'pending_approval', expiresAt: null });
    expect(await idp.container.breakGlassElevation.activeFor(user.id)).toBeUndefined();
    // with the trail writable again, the same approval goes through
    expect((await api('POST', `/break-glass/${pending}/approve`, undefined, keys.approver)).status).toBe(200);
    expect(await idp.container.breakGlassElevation.activeFor(user.id)).toMatchObject({ id: pending });
  });
});
