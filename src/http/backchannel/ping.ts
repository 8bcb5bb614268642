import { readFileSync } from 'node:fs';
import { request } from 'node:https';

/** What oidc-provider's `fetch` option is: the Fetch API's signature. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * oidc-provider's outbound requests (here: CIBA ping notifications). In production this is
 * plain `fetch` with the SSRF-guarding dispatcher oidc-provider passes in, so a ping only
 * reaches publicly routable https endpoints (oidc-provider already requires https for
 * `backchannel_client_notification_endpoint`).
 *
 * With `allowPrivate` (LATCHKEY_CIBA_PING_ALLOW_PRIVATE, development and tests only) the request
 * goes through node:https without that guard, so a receiver on 127.0.0.1 can be pinged, trusting
 * the optional extra CA (LATCHKEY_CIBA_PING_CA_FILE) for its development certificate.
 */
export function outboundFetch(options: { allowPrivate: boolean; caFile: string | undefined }): FetchLike {
  if (!options.allowPrivate) return (input, init) => globalThis.fetch(input, init);
  const ca = options.caFile ? readFileSync(options.caFile, 'utf8') : undefined;
  return async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : input);
    if (url.protocol !== 'https:') throw new TypeError('ping endpoints must use https');
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => {
      if (value !== '') headers[key] = value;
    });
    const body = typeof init.body === 'string' ? init.body : undefined;
    return new Promise<Response>((resolve, reject) => {
      const outgoing = request(
        url,
        { method: init.method ?? 'GET', headers, signal: init.signal ?? undefined, ...(ca ? { ca } : {}) },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('error', reject);
          incoming.on('end', () => {
            const status = incoming.statusCode ?? 502;
            const nullBody = status === 204 || status === 304 || (status >= 100 && status < 200);
            resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status }));
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  };
}
