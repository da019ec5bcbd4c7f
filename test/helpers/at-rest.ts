import { Redis } from 'ioredis';
import { sql } from 'kysely';
import type { Db } from '../../src/store/db.js';
import { REDIS_URL } from './env.js';

/** Everything `oidc_payloads` holds, every column as text: what a copy of the database would show. */
export async function oidcRowsAsText(db: Db): Promise<string> {
  const { rows } = await sql<{ row: string }>`select concat_ws(' ', model, id, payload::text, grant_id, uid, user_code) as row from oidc_payloads`.execute(db);
  return rows.map((r) => r.row).join('\n');
}

/** Every key under `prefix` with its value(s), whatever the type: what a copy of Redis would show. */
export async function redisKeysAsText(prefix: string, url = REDIS_URL): Promise<string> {
  const raw = new Redis(url);
  const out: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, found] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      for (const key of found) {
        const type = await raw.type(key);
        const value =
          type === 'hash'
            ? JSON.stringify(await raw.hgetall(key))
            : type === 'set'
              ? (await raw.smembers(key)).join(' ')
              : type === 'string'
                ? await raw.get(key)
                : undefined;
        if (value === undefined) throw new Error(`no reader for ${key} of type ${type}`);
        out.push(`${key} ${value}`);
      }
      cursor = next;
    } while (cursor !== '0');
  } finally {
    raw.disconnect();
  }
  return out.join('\n');
}
