import nunjucks from 'nunjucks';
import { viewsDir } from '../paths.ts';
import { scriptMessages, translate, type Locale, type MessageKey } from '../i18n/index.ts';

/**
 * Renders a page template in one language with auto-escaping: every value is HTML-escaped
 * unless a template says otherwise.
 */
export type Render = (template: string, locale: Locale, context: Record<string, unknown>) => string;

const { SafeString } = nunjucks.runtime;
// nunjucks' own escaping (its typings omit it), the same the templates' auto-escaping uses.
const escape = (value: unknown): string => (nunjucks.lib as unknown as { escape(s: string): string }).escape(String(value ?? ''));

/** A value a template already turned into markup (escaped inside) stays as it is; anything else is escaped. */
function html(value: unknown): string {
  return value instanceof SafeString ? String(value) : escape(value);
}

/** What every page shows of the operator: its name, logo, stylesheet of brand colours and help link. */
export interface PageBranding {
  readonly productName: string;
  readonly logoSrc?: string | undefined;
  readonly stylesheet?: string | undefined;
  readonly supportUrl?: string | undefined;
}

export function createRenderer(options: PageBranding & { watch?: boolean }): Render {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(viewsDir, { noCache: options.watch ?? false }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  env.addGlobal('productName', options.productName);
  env.addGlobal('brand', { logoSrc: options.logoSrc, stylesheet: options.stylesheet, supportUrl: options.supportUrl });
  // <strong>value</strong> and <a href>text</a> for a message's placeholders, escaped inside.
  env.addGlobal('strong', (value: unknown) => new SafeString(`<strong>${html(value)}</strong>`));
  env.addGlobal('code', (value: unknown) => new SafeString(`<code>${html(value)}</code>`));
  env.addGlobal('em', (value: unknown) => new SafeString(`<em>${html(value)}</em>`));
  env.addGlobal('link', (href: unknown, text: unknown) => new SafeString(`<a href="${escape(href)}">${html(text)}</a>`));
  const messagesJson = new Map<Locale, string>();
  return (template, locale, context) => {
    // The message is escaped, then each placeholder gets its value escaped (or the markup a helper made).
    const t = (key: MessageKey, params: Record<string, unknown> = {}) =>
      new SafeString(escape(translate(locale, key, {})).replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? html(params[name]) : whole)));
    let json = messagesJson.get(locale);
    if (json === undefined) {
      // "<" escaped, so no message can end the data block early.
      json = JSON.stringify(scriptMessages(locale)).replaceAll('<', '\\u003c');
      messagesJson.set(locale, json);
    }
    return env.render(template, { ...context, lang: locale, t, scriptMessages: new SafeString(json) });
  };
}
