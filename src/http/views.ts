import nunjucks from 'nunjucks';
import { viewsDir } from '../paths.ts';

/** Renders a page template with auto-escaping: every value is HTML-escaped unless a template says otherwise. */
export type Render = (template: string, context: Record<string, unknown>) => string;

export function createRenderer(options: { productName: string; watch?: boolean }): Render {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(viewsDir, { noCache: options.watch ?? false }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  env.addGlobal('productName', options.productName);
  return (template, context) => env.render(template, context);
}
