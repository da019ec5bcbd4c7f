import { Eta } from 'eta';

export interface ViewRenderer {
  render(view: string, data: Record<string, unknown>): Promise<string>;
}

/** Server-rendered pages from the templates in `dir` (autoescaped), so every step works without JavaScript. */
export function createViewRenderer(dir: string): ViewRenderer {
  const eta = new Eta({ views: dir, autoEscape: true, cache: true });
  return { render: async (view, data) => eta.renderAsync(view, data) };
}
