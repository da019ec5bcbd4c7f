import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import samlify from 'samlify';

const require = createRequire(import.meta.url);
const schemaDir = path.join(path.dirname(require.resolve('@authenio/samlify-xmllint-wasm/package.json')), 'build/schemas');
const xmllintDir = path.dirname(require.resolve('xmllint-wasm/package.json'));
const PROTOCOL_SCHEMA = 'saml-schema-protocol-2.0.xsd';
const schemas = [PROTOCOL_SCHEMA, 'datatypes.dtd', 'saml-schema-assertion-2.0.xsd', 'xmldsig-core-schema.xsd', 'XMLSchema.dtd', 'xenc-schema.xsd'].map(
  (fileName) => ({ fileName, contents: fs.readFileSync(path.join(schemaDir, fileName), 'utf8') }),
);

/** Messages validated in one xmllint run: the schemas are parsed once per run, which costs far more than one message. */
const BATCH_MAX = 32;
/** A run that takes longer has gone wrong (a batch takes tens of milliseconds); its messages are refused and the worker replaced. */
const RUN_TIMEOUT_MS = 10_000;
/** xmllint-wasm's own memory bounds (WebAssembly pages of 64 KiB: 16 MiB, growing to 32 MiB). */
const MEMORY_PAGES = { initial: 256, maximum: 512 };

/*
 * xmllint-wasm's validateXML starts a worker thread and compiles the WebAssembly module for every
 * call (about 180 ms of CPU). This worker lives on: it compiles the module once and runs xmllint
 * (a fresh instance, so no state carries over between runs) on each batch it is sent.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const Module = require(workerData.glue);
const compiled = new WebAssembly.Module(fs.readFileSync(workerData.wasm));
parentPort.on('message', (job) => {
  if (!job || job.runId === undefined) return;
  let stderr = '';
  let done = false;
  const finish = (exitCode) => {
    if (done) return;
    done = true;
    parentPort.postMessage({ runId: job.runId, exitCode, stderr });
  };
  Module({
    inputFiles: [...job.documents, ...workerData.schemas],
    arguments: ['--schema', workerData.schema, '--noout', ...job.documents.map((d) => d.fileName)],
    print() {},
    printErr(text) { stderr += text + '\\n'; },
    onExit: finish,
    onAbort(reason) { stderr += 'abort: ' + reason + '\\n'; finish(-1); },
    wasmMemory: new WebAssembly.Memory(workerData.memory),
    instantiateWasm(imports, done) {
      const instance = new WebAssembly.Instance(compiled, imports);
      done(instance, compiled);
      return instance.exports;
    },
  }).catch((err) => { stderr += String(err) + '\\n'; finish(-2); });
});
`;

interface Pending {
  xml: string;
  resolve: (valid: boolean) => void;
  reject: (err: Error) => void;
}
interface RunResult {
  runId: number;
  exitCode: number;
  stderr: string;
}

let worker: Worker | undefined;
let runs = 0;
const inFlight = new Map<number, { resolve: (r: RunResult) => void; reject: (err: Error) => void }>();
const queue: Pending[] = [];
let draining = false;

function ensureWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, {
    eval: true,
    // Plain CommonJS needs no loader the parent runs with (tsx, jest), and inheriting them would keep the parent alive.
    execArgv: [],
    workerData: {
      glue: path.join(xmllintDir, 'xmllint-node.js'),
      wasm: path.join(xmllintDir, 'xmllint.wasm'),
      schemas,
      schema: PROTOCOL_SCHEMA,
      memory: MEMORY_PAGES,
    },
  });
  w.on('message', (r: RunResult) => {
    inFlight.get(r.runId)?.resolve(r);
    inFlight.delete(r.runId);
  });
  const lost = (err: Error) => {
    if (worker === w) worker = undefined;
    for (const run of inFlight.values()) run.reject(err);
    inFlight.clear();
  };
  w.on('error', lost);
  w.on('exit', (code) => lost(new Error(`xmllint worker exited (${code})`)));
  // Idle between requests, it must not keep the process alive (after the listeners: adding one refs it again).
  w.unref();
  worker = w;
  return w;
}

function run(documents: { fileName: string; contents: string }[]): Promise<RunResult> {
  const w = ensureWorker();
  const runId = ++runs;
  return new Promise<RunResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error('xmllint run timed out'));
      void w.terminate();
    }, RUN_TIMEOUT_MS);
    inFlight.set(runId, {
      resolve: (r) => (clearTimeout(timer), resolve(r)),
      reject: (err) => (clearTimeout(timer), reject(err)),
    });
    w.postMessage({ runId, documents });
  });
}

/** xmllint's exit codes when it went through every file: all valid, a file not well-formed, a file not schema-valid. */
const ENDS_WITH_VERDICTS = new Set([0, 1, 3, 4]);

/**
 * Validates a batch in one run. A message counts as valid only when xmllint says so by the exact
 * line "<file> validates"; file names are random per run, so no message can make an error line
 * read as another's verdict. Should a run end early (an abort, out of memory), the messages it
 * gave no verdict on are run again one at a time, so one message cannot fail the others.
 */
async function validateBatch(batch: Pending[]): Promise<void> {
  const names = batch.map(() => `m-${crypto.randomBytes(12).toString('hex')}.xml`);
  let result: RunResult;
  try {
    result = await run(batch.map((p, i) => ({ fileName: names[i]!, contents: p.xml })));
  } catch (err) {
    for (const p of batch) p.reject(err as Error);
    return;
  }
  const verdicts = new Set(result.stderr.split('\n'));
  const retry: Pending[] = [];
  batch.forEach((p, i) => {
    if (verdicts.has(`${names[i]} validates`)) p.resolve(true);
    else if (ENDS_WITH_VERDICTS.has(result.exitCode) || batch.length === 1) p.resolve(false);
    else retry.push(p);
  });
  for (const p of retry) await validateBatch([p]);
}

async function drain(): Promise<void> {
  if (draining) return;
  draining = true;
  try {
    // Messages arriving while a batch runs wait for the next one: under load, batches fill by themselves.
    while (queue.length) await validateBatch(queue.splice(0, BATCH_MAX));
  } finally {
    draining = false;
  }
}

/**
 * Every SAML message samlify parses, and every AuthnRequest we read, is checked against the SAML
 * 2.0 protocol schema first (xmllint compiled to WebAssembly: no Java, no native build), so a
 * message of an unexpected shape is refused before any field is read from it.
 */
export async function validateSamlMessage(xml: string): Promise<void> {
  const valid = await new Promise<boolean>((resolve, reject) => {
    queue.push({ xml, resolve, reject });
    void drain();
  });
  if (!valid) throw new Error('SAML message is not schema-valid against saml-schema-protocol-2.0.xsd');
}

samlify.setSchemaValidator({ validate: validateSamlMessage });
