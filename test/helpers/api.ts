import { ADMIN_KEY } from './env.js';

export interface ApiResponse {
  status: number;
  body: any;
  text: string;
  res: Response;
}

/** Calls `/api/v1` with a Bearer key (null: none); `raw` sends a body as given, for malformed-input tests. */
export function apiClient(baseUrl: () => string, defaultKey: () => string = () => ADMIN_KEY) {
  return async (
    method: string,
    path: string,
    body?: unknown,
    key: string | null = defaultKey(),
    raw?: { body: string; type: string },
  ): Promise<ApiResponse> => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let payload: string | undefined;
    if (raw) {
      headers['content-type'] = raw.type;
      payload = raw.body;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${baseUrl()}/api/v1${path}`, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, body: json, text, res };
  };
}

/** Every error is JSON `{error, error_description}`; `field` must open the description when given. */
export function expectJsonError(r: { status: number; body: any; res: Response }, status: number, error?: string, field?: string): void {
  expect(r.status).toBe(status);
  expect(r.res.headers.get('content-type')).toMatch(/application\/json/);
  expect(r.body).toEqual({ error: error ?? expect.any(String), error_description: expect.any(String) });
  if (field) expect(r.body.error_description.startsWith(field)).toBe(true);
}
