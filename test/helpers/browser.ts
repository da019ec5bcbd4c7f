/**
 * A minimal browser: a cookie jar (cookies are shared across ports, as real browsers do for one
 * host) and fetch without automatic redirects so each hop can be inspected.
 */
export class Browser {
  private readonly jar = new Map<string, Map<string, string>>();
  /** Sent with every request (a browser's User-Agent, or X-Forwarded-For as a trusted proxy would add it). */
  readonly headers: Record<string, string> = {};

  constructor(private readonly rewrite?: (url: URL) => URL) {}

  private cookieHeader(url: URL): string | undefined {
    const cookies = this.jar.get(url.hostname);
    if (!cookies?.size) return undefined;
    return [...cookies.entries()].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private store(url: URL, res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const cookies = this.jar.get(url.hostname) ?? new Map<string, string>();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') cookies.delete(name);
      else cookies.set(name, value);
      this.jar.set(url.hostname, cookies);
    }
  }

  cookies(host = 'localhost'): Map<string, string> {
    return this.jar.get(host) ?? new Map();
  }

  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    let url = new URL(input);
    if (this.rewrite) url = this.rewrite(url);
    const headers = new Headers(this.headers);
    new Headers(init.headers).forEach((value, name) => headers.set(name, value));
    const cookie = this.cookieHeader(url);
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.store(url, res);
    return res;
  }

  async json(
    url: string | URL,
    body?: unknown,
    method = body === undefined ? 'GET' : 'POST',
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: any; res: Response }> {
    const res = await this.fetch(url, {
      method,
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed, res };
  }

  /** Follows redirects until one leaves `origin`-relative interaction handling: returns the first URL outside `stopPrefix` or the last response. */
  async follow(start: string | URL, stop: (url: URL) => boolean): Promise<URL> {
    let url = new URL(start);
    for (let i = 0; i < 10; i++) {
      if (stop(url)) return url;
      const res = await this.fetch(url, { headers: { accept: 'application/json' } });
      const location = res.headers.get('location');
      if (!location) return url;
      url = new URL(location, url);
    }
    throw new Error('too many redirects');
  }
}

/** A JSON request of the IdP's API (`base` is its `/api/v1`) with this browser's cookies; the answer's body parsed when it has one. */
export async function jsonCall(browser: Browser, base: string, method: string, path: string, body?: unknown) {
  const res = await browser.fetch(`${base}${path}`, {
    method,
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, res };
}
