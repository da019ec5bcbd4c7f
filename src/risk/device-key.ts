import { sha256 } from '../lib/crypto.js';

/** How a device cookie's token is kept: the same hash trusted devices are stored under, never the token. */
export const deviceKeyOf = (token: string): string => sha256(token);
