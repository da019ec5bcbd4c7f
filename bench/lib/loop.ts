import { Recorder } from './recorder.js';

/** How long a phase runs: for a duration (default profile) or for a fixed number of operations (--short). */
export type Phase = { seconds: number } | { count: number };

export interface LoopResult {
  rec: Recorder;
  wallMs: number;
}

/**
 * Closed loop: `vus` virtual users, each starting its next operation when the previous one ends.
 * A phase ends when its deadline passes or its tickets run out; operations in flight then finish
 * and are counted, and the wall time runs until the last one is done.
 */
export async function closedLoop(vus: number, phase: Phase, op: (vu: number, rec: Recorder) => Promise<void>): Promise<LoopResult> {
  const rec = new Recorder();
  const started = performance.now();
  const deadline = 'seconds' in phase ? started + phase.seconds * 1000 : Infinity;
  let tickets = 'count' in phase ? phase.count : Infinity;
  // A hard stop, so a wedged server cannot keep a fixed-count phase running for ever.
  const hardStop = started + ('seconds' in phase ? phase.seconds * 1000 + 60_000 : 180_000);
  const worker = async (vu: number) => {
    while (performance.now() < deadline && tickets > 0 && performance.now() < hardStop) {
      tickets -= 1;
      const t0 = performance.now();
      try {
        await op(vu, rec);
        rec.success(performance.now() - t0);
      } catch (err) {
        rec.failure(err);
      }
    }
  };
  await Promise.all(Array.from({ length: vus }, (_, vu) => worker(vu)));
  return { rec, wallMs: performance.now() - started };
}
