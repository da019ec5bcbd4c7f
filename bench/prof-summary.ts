/**
 * Summarises a V8 .cpuprofile (from `npm run bench -- --cpu-prof`): self time by function and by
 * package, so a hot spot can be named with evidence.
 *
 *   npx tsx bench/prof-summary.ts bench/results/prof-<timestamp>/idp.cpuprofile [top=25]
 */
import fs from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, topRaw] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx bench/prof-summary.ts <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topRaw ?? 25);
const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const pkgOf = (url: string) => {
  if (!url) return '(native/V8)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return 'node core';
  const s = /\/(src|bench)\//.exec(url);
  return s ? `app ${s[1]}/` : url;
};
const label = (n: Node) =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(src|bench)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;

const fnSelf = new Map<string, number>();
const pkgSelf = new Map<string, number>();
// Inclusive time per package: a sample counts once for every package on its stack.
const pkgIncl = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  fnSelf.set(label(n), (fnSelf.get(label(n)) ?? 0) + us);
  pkgSelf.set(pkgOf(n.callFrame.url), (pkgSelf.get(pkgOf(n.callFrame.url)) ?? 0) + us);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const p = pkgOf(byId.get(cur)!.callFrame.url);
    if (p === '(native/V8)' || seen.has(p)) continue;
    seen.add(p);
    pkgIncl.set(p, (pkgIncl.get(p) ?? 0) + us);
  }
}
// Inclusive time of the application's own functions (src/), e.g. the adapter, repositories, middleware.
const appIncl = new Map<string, number>();
for (const [id, us] of selfUs) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur)!;
    if (!/\/src\//.test(n.callFrame.url) || /node_modules/.test(n.callFrame.url)) continue;
    const key = label(n);
    if (seen.has(key)) continue;
    seen.add(key);
    appIncl.set(key, (appIncl.get(key) ?? 0) + us);
  }
}
const pctOf = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)} %`;
const print = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pctOf(v)}  ${(v / 1000).toFixed(0).padStart(7)} ms  ${k}`);
};
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled on the main thread`);
print('self time by package', pkgSelf);
print('inclusive time by package (a sample counts for each package on its stack)', pkgIncl);
print('inclusive time of application functions (src/)', appIncl);
print('self time by function', fnSelf);
