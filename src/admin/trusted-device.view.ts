import type { TrustedDeviceRow } from '../store/database.js';

/** A trusted device as the APIs show it; the token hash never leaves the server. */
export const trustedDeviceView = (d: TrustedDeviceRow, currentId?: string) => ({
  id: d.id,
  name: d.name,
  ip: d.ip,
  user_agent: d.userAgent,
  created_at: d.createdAt.toISOString(),
  last_used_at: d.lastUsedAt?.toISOString() ?? null,
  expires_at: d.expiresAt.toISOString(),
  ...(currentId === undefined ? {} : { current: d.id === currentId }),
});
