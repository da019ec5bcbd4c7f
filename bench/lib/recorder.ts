/** Latencies (ms) and outcomes of the operations of one measurement window. Bounded by the op count. */
export class Recorder {
  readonly latencies: number[] = [];
  readonly steps = new Map<string, number[]>();
  ok = 0;
  non2xx = 0;
  errors = 0;
  readonly statuses: Record<string, number> = {};
  readonly samples: string[] = [];

  success(ms: number): void {
    this.ok += 1;
    this.latencies.push(ms);
  }

  step(name: string, ms: number): void {
    let list = this.steps.get(name);
    if (!list) this.steps.set(name, (list = []));
    list.push(ms);
  }

  failure(err: unknown): void {
    if (err instanceof HttpStatusError) {
      this.non2xx += 1;
      this.statuses[String(err.status)] = (this.statuses[String(err.status)] ?? 0) + 1;
    } else {
      this.errors += 1;
    }
    const text = err instanceof Error ? err.message : String(err);
    if (this.samples.length < 5 && !this.samples.includes(text)) this.samples.push(text.slice(0, 300));
  }

  get total(): number {
    return this.ok + this.non2xx + this.errors;
  }
}

/** A response with an unexpected status: counted as non-2xx (or unexpected 3xx) rather than as an error. */
export class HttpStatusError extends Error {
  constructor(
    readonly step: string,
    readonly status: number,
    body: string,
  ) {
    super(`${step}: HTTP ${status} ${body.slice(0, 200)}`);
  }
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(values: number[]): LatencySummary {
  if (values.length === 0) return { count: 0, mean: NaN, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: sorted.length, mean: sum / sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1]! };
}
