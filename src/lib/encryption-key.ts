import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from './logger.js';
import { ConfigError } from './startup-error.js';

/**
 * ENCRYPTION_KEY (32 bytes, base64) seals private keys and factor secrets. Production refuses to
 * run without it; development keeps a generated one under the data directory, with a warning.
 */
export function resolveEncryptionKey(config: { encryptionKey?: string | undefined; nodeEnv: string; dataDir: string }, logger: Logger): Buffer {
  if (config.encryptionKey) {
    const key = Buffer.from(config.encryptionKey, 'base64');
    if (key.length !== 32) throw new ConfigError('invalid configuration: ENCRYPTION_KEY must be 32 bytes, base64-encoded');
    return key;
  }
  if (config.nodeEnv === 'production') {
    throw new ConfigError('invalid configuration: ENCRYPTION_KEY is required in production (32 random bytes, base64)');
  }
  const file = path.join(config.dataDir, 'encryption.key');
  if (fs.existsSync(file)) return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  fs.mkdirSync(config.dataDir, { recursive: true });
  const key = crypto.randomBytes(32);
  fs.writeFileSync(file, key.toString('base64'), { mode: 0o600 });
  logger.warn({ file }, 'ENCRYPTION_KEY not set: generated a development key; set ENCRYPTION_KEY in production');
  return key;
}
