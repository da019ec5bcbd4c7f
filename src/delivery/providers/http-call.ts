import type { SendOutcome } from './provider.js';

/** Errors raised before a request could leave: nothing was sent, so another provider may get the same code. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_INVALID_URL', 'UND_ERR_CONNECT_TIMEOUT']);

function causeCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

export type HttpAnswer = { ok: true; status: number; json: unknown } | { ok: false; outcome: SendOutcome };

/**
 * One request to a provider, bounded by `signal` from the first byte to the last of the answer.
 * A 2xx is read as JSON (`json` null when it is not); 3xx and 4xx mean refused, 5xx and a broken or
 * timed-out exchange mean the message may have gone out.
 */
export async function callProvider(url: string, init: RequestInit, signal: AbortSignal): Promise<HttpAnswer> {
  try {
    const res = await fetch(url, { ...init, signal, redirect: 'manual' });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, json };
    const error = `HTTP ${res.status}${describe(json)}`;
    // A redirect is not followed (the URL is the one configured) and, like a 4xx, is no acceptance.
    return { ok: false, outcome: res.status < 500 ? { kind: 'refused', error } : { kind: 'uncertain', error, timedOut: false } };
  } catch (err) {
    if (signal.aborted) return { ok: false, outcome: { kind: 'uncertain', error: 'timeout', timedOut: true } };
    const code = causeCode(err);
    if (code && NOT_CONNECTED.has(code)) return { ok: false, outcome: { kind: 'refused', error: `not connected: ${code}` } };
    return { ok: false, outcome: { kind: 'uncertain', error: `network: ${code ?? 'error'}`, timedOut: false } };
  }
}

/**
 * The provider's own error code, if it gave one: its words stay out of the record, which an organisation's
 * key can read, so a URL pointed somewhere it should not be learns nothing of what answered there.
 */
function describe(json: unknown): string {
  const code = typeof json === 'object' && json !== null ? (json as { code?: unknown }).code : undefined;
  return (typeof code === 'number' || typeof code === 'string') && /^[A-Za-z0-9_.-]{1,32}$/.test(String(code)) ? `: provider error ${code}` : '';
}

/** Providers quote the number they refused ("The 'To' number +1555… is not valid"): the record must not keep it. */
export const withoutNumbers = (s: string) => s.replace(/\+?\d[\d\s().-]{4,}\d/g, '[number]');
