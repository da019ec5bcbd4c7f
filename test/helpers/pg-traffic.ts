import pg from 'pg';

/**
 * Reads of configuration the server caches for a few seconds (clients, settings, organisations): on a
 * slow machine a request may find the cache cold, so they are not part of what a request costs.
 */
const CACHED_CONFIG = /^\s*select [^()]* from "?(clients|settings|organizations)"? where/i;

/**
 * Server settings for a test that counts statements: no webhook worker polling its queue on a timer,
 * whose statements would land in whatever request happens to be counted.
 */
export const QUIET_SERVER = { webhooks: { workerIntervalMs: 0 } };

/**
 * Counts the statements every pg client of this process sends while `counted` runs (installed for the
 * test file). Nothing else may run against the server meanwhile.
 */
export function countStatements() {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const originalQuery = proto.query;
  let sink: string[] | undefined;

  beforeAll(() => {
    proto.query = function countingQuery(this: unknown, ...args: unknown[]) {
      const first = args[0] as string | { text?: string } | undefined;
      const text = (typeof first === 'string' ? first : (first?.text ?? '?')).replace(/\s+/g, ' ').trim();
      if (sink && !CACHED_CONFIG.test(text)) sink.push(text);
      return originalQuery.apply(this, args);
    };
  });
  afterAll(() => {
    proto.query = originalQuery;
  });

  return {
    /** The statements sent while `fn` runs. */
    counted: async <T>(fn: () => Promise<T>): Promise<{ result: T; statements: string[] }> => {
      const statements: string[] = [];
      sink = statements;
      try {
        return { result: await fn(), statements };
      } finally {
        sink = undefined;
      }
    },
    /** Marks a point in the statements being counted (a no-op outside `counted`). */
    mark: (label: string): void => {
      sink?.push(label);
    },
  };
}

/** The statement without its parenthesised parts (subqueries, value lists). */
function outer(statement: string): string {
  let s = statement;
  for (let prev = ''; prev !== s;) [prev, s] = [s, s.replace(/\([^()]*\)/g, '')];
  return s;
}

/** Statements that read one of `tables` as their main table (a subquery's table does not count). */
export const reads = (statements: string[], ...tables: string[]) =>
  statements.filter((s) => new RegExp(`^select .*\\bfrom "?(${tables.join('|')})"?( |$)`, 'i').test(outer(s)));
