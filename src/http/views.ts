import path from 'node:path';
import { Eta } from 'eta';
import { projectRoot } from '../config.js';

export interface ViewRenderer {
  render(view: string, data: Record<string, unknown>): Promise<string>;
}

/**
 * Server-rendered pages from views/ (autoescaped), so every step works without JavaScript.
 * `partials` are named templates pages include as `@name` (each factor's challenge form).
 */
export function createViewRenderer(partials: Record<string, string> = {}): ViewRenderer {
  const eta = new Eta({ views: path.join(projectRoot, 'views'), autoEscape: true, cache: true });
  for (const [name, template] of Object.entries(partials)) eta.loadTemplate(`@${name}`, template);
  return { render: async (view, data) => eta.renderAsync(view, data) };
}
