import fs from 'node:fs';
import path from 'node:path';
import type { Asset } from '../assets/assets.routes.js';

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/**
 * The console's ES modules and stylesheet (`assets/admin/<name>.js`, `.css`), served flat as `/assets/admin-<name>`
 * (the asset routes take one path segment); their imports of one another use those names. Read from
 * the folder, so a module added there (the dashboard) is served without another line.
 */
export function consoleAssets(projectRoot: string): Record<string, Asset> {
  const dir = path.join(projectRoot, 'assets', 'admin');
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => path.extname(f) in TYPES) : [];
  return Object.fromEntries(files.map((f) => [`admin-${f}`, { file: path.join(dir, f), type: TYPES[path.extname(f)]! }]));
}
