import autocannon from 'autocannon';
import type { Phase } from '../lib/loop.js';

export interface CannonOutcome {
  ok: number;
  non2xx: number;
  errors: number;
  wallMs: number;
  latency: { p50: number; p90: number; p99: number; mean: number; max: number };
}

/** One autocannon run (GET, keep-alive) in this process, for `seconds` or `count` requests. */
export async function cannon(url: string, connections: number, phase: Phase): Promise<CannonOutcome> {
  const t0 = performance.now();
  const result = await autocannon({
    url,
    connections,
    pipelining: 1,
    method: 'GET',
    timeout: 10,
    ...('seconds' in phase ? { duration: phase.seconds } : { amount: phase.count }),
  });
  const wallMs = performance.now() - t0;
  return {
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    wallMs,
    latency: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, mean: result.latency.mean, max: result.latency.max },
  };
}
