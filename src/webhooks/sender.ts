import http from 'node:http';
import https from 'node:https';
import { checkTargetUrl, guardedLookup, type TargetRules } from './target.js';

export interface PostResult {
  /** The receiver's HTTP status; absent when no answer came (refused, timeout, network). */
  statusCode?: number;
  /** Why no answer came, for the delivery log (no secret or payload in it). */
  error?: string;
}

/** The answer is read up to this much and dropped: only its status matters. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** POSTs one JSON body to a webhook target, within `timeoutMs`, connecting only to addresses the rules allow. */
export function postJson(rawUrl: string, body: string, headers: Record<string, string>, timeoutMs: number, rules: TargetRules): Promise<PostResult> {
  let url: URL;
  try {
    url = checkTargetUrl(rawUrl, rules);
  } catch (err) {
    return Promise.resolve({ error: err instanceof Error ? err.message : 'target refused' });
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'idp-webhooks/1', ...headers },
        lookup: guardedLookup(rules),
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) res.destroy();
        });
        res.on('close', () => resolve({ statusCode: res.statusCode }));
        res.on('error', () => resolve({ statusCode: res.statusCode }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.name === 'AbortError' ? 'timeout' : (err.code ?? err.message).slice(0, 200) }));
    req.end(body);
  });
}
