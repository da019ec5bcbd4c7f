import { Eta } from 'eta';

export interface ViewRenderer {
  render(view: string, data: Record<string, unknown>): Promise<string>;
}

/**
 * Server-rendered pages from the templates in `dir` (autoescaped), so every step works without
 * JavaScript. `partials` are named templates pages include as `@name` (each factor's challenge form).
 */
export function createViewRenderer(dir: string, partials: Record<string, string> = {}): ViewRenderer {
  const eta = new Eta({ views: dir, autoEscape: true, cache: true });
  for (const [name, template] of Object.entries(partials)) eta.loadTemplate(`@${name}`, template);
  return { render: async (view, data) => eta.renderAsync(view, data) };
}
