import pg from 'pg';
import type { ApiScope } from '../../src/admin/api-key.service.js';
import { apiClient, type ApiResponse } from './api.js';
import { DATABASE_URL, type TestIdp } from './env.js';

/** API keys for the two sides of break-glass access, made directly through the container. */
export async function breakGlassKeys(idp: TestIdp, organizationId: string | null = null) {
  const make = async (name: string, scopes: ApiScope[]) => (await idp.container.apiKeys.create(name, scopes, organizationId)).key;
  return {
    requester: await make('bg-requester', ['break_glass:request']),
    approver: await make('bg-approver', ['break_glass:approve']),
    reviewer: await make('bg-reviewer', ['break_glass:approve']),
    /** Holds both scopes: the one key a self-approval comes from. */
    both: await make('bg-both', ['break_glass:request', 'break_glass:approve']),
  };
}

export const grantRequest = (userId: string, extra: Record<string, unknown> = {}) => ({
  user_id: userId,
  reason: 'production database is down and the on-call needs write access',
  duration: 600,
  permissions: ['db.admin', 'incident:commander'],
  notify_admins: false,
  ...extra,
});

/** Requests a grant with `requester`, approves it with `approver`; returns the approved grant. */
export async function activeGrant(idp: TestIdp, keys: { requester: string; approver: string }, userId: string, extra: Record<string, unknown> = {}) {
  const api = apiClient(() => idp.url);
  const requested = await api('POST', '/break-glass', grantRequest(userId, extra), keys.requester);
  if (requested.status !== 201) throw new Error(`request failed: ${requested.status} ${requested.text}`);
  const approved: ApiResponse = await api('POST', `/break-glass/${requested.body.break_glass.id}/approve`, undefined, keys.approver);
  if (approved.status !== 200) throw new Error(`approval failed: ${approved.status} ${approved.text}`);
  return approved.body.break_glass as { id: string; expires_at: string; permissions: string[] };
}

/**
 * Makes the test's audit trail refuse break-glass events (a trigger in the IdP's schema), as a full
 * disk or a lost privilege would; returns how to lift it.
 */
export async function refuseBreakGlassAudit(idp: TestIdp): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  const schema = `"${idp.name}"`;
  try {
    await client.query(`create or replace function ${schema}.refuse_break_glass_audit() returns trigger language plpgsql as $$
      begin
        if new.type like 'break_glass.%' then raise exception 'audit write refused'; end if;
        return new;
      end $$`);
    await client.query(
      `create trigger refuse_break_glass_audit before insert on ${schema}.audit_events for each row execute function ${schema}.refuse_break_glass_audit()`,
    );
  } finally {
    await client.end();
  }
  return async () => {
    const c = new pg.Client({ connectionString: DATABASE_URL });
    await c.connect();
    try {
      await c.query(`drop trigger refuse_break_glass_audit on ${schema}.audit_events`);
    } finally {
      await c.end();
    }
  };
}
