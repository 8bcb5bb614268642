/**
 * A minimal browser stand-in for protocol tests: a cookie jar (path-scoped, expiring) over
 * fetch with manual redirects, so each hop of a flow can be asserted.
 */
interface StoredCookie {
  name: string;
  value: string;
  path: string;
  expires: number | null;
}

/** Every response a client saw: for checks that must hold on all of them (headers, cookie flags). */
export interface SeenResponse {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
}

export interface HttpClientOptions {
  /**
   * Where requests really go, e.g. `http://localhost:PORT` behind a TLS-terminating proxy whose
   * public origin is `origin` (https). Cookies and redirects stay in terms of `origin`.
   */
  readonly connectTo?: string;
  /** Headers sent with every request (e.g. the X-Forwarded-Proto a proxy adds). */
  readonly headers?: Record<string, string>;
}

export class HttpClient {
  private cookies: StoredCookie[] = [];
  readonly seen: SeenResponse[] = [];

  constructor(
    readonly origin: string,
    private readonly options: HttpClientOptions = {},
  ) {}

  async request(method: string, pathOrUrl: string, init: { body?: unknown; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
    const url = new URL(pathOrUrl, this.origin);
    const headers: Record<string, string> = { ...this.options.headers, ...init.headers };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    } else if (init.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers.accept ??= 'application/json';
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    }
    const target = this.options.connectTo && url.origin === this.origin ? new URL(url.pathname + url.search, this.options.connectTo) : url;
    const response = await fetch(target, { method, headers, body, redirect: 'manual' });
    this.seen.push({ method, url: url.href, status: response.status, headers: response.headers });
    if (url.origin === this.origin) this.store(response, url);
    return response;
  }

  /** Plants a cookie, as an attacker with a foothold in the browser (or a sibling site) could. */
  setCookie(name: string, value: string, path = '/'): void {
    this.cookies = this.cookies.filter((c) => !(c.name === name && c.path === path));
    this.cookies.push({ name, value, path, expires: null });
  }

  get(pathOrUrl: string, headers?: Record<string, string>): Promise<Response> {
    return this.request('GET', pathOrUrl, { headers });
  }

  /** Follows redirects within Latchkey; stops at (and returns) the first URL outside it. */
  async follow(pathOrUrl: string): Promise<{ response: Response; url: string }> {
    let url = new URL(pathOrUrl, this.origin).href;
    for (let hops = 0; hops < 20; hops++) {
      if (new URL(url).origin !== this.origin) return { response: new Response(null), url };
      const response = await this.get(url);
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) return { response, url };
      await response.body?.cancel();
      url = new URL(location, url).href;
    }
    throw new Error('too many redirects');
  }

  cookieNames(): string[] {
    return this.cookies.map((c) => c.name);
  }

  cookieValue(name: string): string | undefined {
    return this.cookies.find((c) => c.name === name)?.value;
  }

  private cookieHeader(url: URL): string {
    const now = Date.now();
    this.cookies = this.cookies.filter((c) => c.expires === null || c.expires > now);
    return this.cookies
      .filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  private store(response: Response, url: URL): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attributes] = header.split(';').map((s) => s.trim());
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      let path = url.pathname.replace(/\/[^/]*$/, '') || '/';
      let expires: number | null = null;
      for (const attribute of attributes) {
        const [key, val = ''] = attribute.split('=');
        const k = key!.toLowerCase();
        if (k === 'path') path = val;
        if (k === 'expires') expires = Date.parse(val);
        if (k === 'max-age') expires = Date.now() + Number(val) * 1000;
      }
      this.cookies = this.cookies.filter((c) => !(c.name === name && c.path === path));
      if (expires === null || expires > Date.now()) this.cookies.push({ name, value, path, expires });
    }
  }
}

/** The CSRF token a page carries in its meta tag. */
export function csrfTokenOf(html: string): string {
  const token = html.match(/<meta name="csrf-token" content="([^"]+)">/)?.[1];
  if (!token) throw new Error('page has no CSRF token');
  return token;
}
