import pg from 'pg';
import { Redis } from 'ioredis';

/**
 * Counts PostgreSQL queries and Redis commands inside the server process, so each scenario can
 * report store round trips per operation. Cost: one Map update per query/command.
 */
const pgCounts: Record<string, number> = {};
const redisCounts: Record<string, number> = {};

const TABLE = /\b(?:from|into|update|join)\s+"?([a-z_][a-z0-9_]*)"?(?:\."?([a-z_][a-z0-9_]*)"?)?/i;

export function classifySql(text: string): string {
  const verb = /^\s*(\w+)/.exec(text)?.[1]?.toLowerCase() ?? '?';
  const m = TABLE.exec(text);
  const table = m ? (m[2] ?? m[1]) : '';
  return table ? `${verb} ${table}` : verb;
}

/*
 * The regex costs more than some of the queries it counts, and would be charged to our server
 * only: classified once per statement text (the texts come from a fixed set of templates).
 */
const classes = new Map<string, string>();
function classified(text: string): string {
  let key = classes.get(text);
  if (key === undefined) {
    key = classifySql(text);
    if (classes.size < 10_000) classes.set(text, key);
  }
  return key;
}

export function installCounters(): { pg: Record<string, number>; redis: Record<string, number> } {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = proto.query;
  proto.query = function patchedQuery(this: unknown, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : first?.text;
    if (text) {
      const key = classified(text);
      pgCounts[key] = (pgCounts[key] ?? 0) + 1;
    }
    return query.apply(this, args);
  };
  const rproto = Redis.prototype as unknown as { sendCommand: (...args: unknown[]) => unknown };
  const send = rproto.sendCommand;
  rproto.sendCommand = function patchedSend(this: unknown, ...args: unknown[]) {
    const name = (args[0] as { name?: string } | undefined)?.name ?? '?';
    redisCounts[name] = (redisCounts[name] ?? 0) + 1;
    return send.apply(this, args);
  };
  return { pg: pgCounts, redis: redisCounts };
}
