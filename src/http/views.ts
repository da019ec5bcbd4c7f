import path from 'node:path';
import { Eta } from 'eta';
import { projectRoot } from '../config.js';

export interface ViewRenderer {
  render(view: string, data: Record<string, unknown>): Promise<string>;
}

/** Server-rendered pages from views/ (autoescaped), so every step works without JavaScript. */
export function createViewRenderer(): ViewRenderer {
  const eta = new Eta({ views: path.join(projectRoot, 'views'), autoEscape: true, cache: true });
  return { render: async (view, data) => eta.renderAsync(view, data) };
}
