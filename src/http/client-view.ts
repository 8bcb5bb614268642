import { ACCOUNT_CLIENT_ID } from '../config/account-client.ts';
import { isLogoDataUri } from '../config/client-logo.ts';
import { clientMetadata } from '../config/client-metadata.ts';
import { translate, type Locale } from '../i18n/index.ts';

/** What the pages show about the application a person deals with: name, logo, policy and terms links. */
export interface ClientView {
  readonly id: string;
  readonly name: string;
  /** An image source safe to load: an allowed https host, or an inlined data: image. */
  readonly logo?: string;
  readonly policyUri?: string;
  readonly tosUri?: string;
}

/** The parts of oidc-provider's Client the pages use. */
export interface ClientLike {
  readonly clientId: string;
  readonly clientName?: string | undefined;
  readonly logoUri?: string | undefined;
  readonly policyUri?: string | undefined;
  readonly tosUri?: string | undefined;
  metadata?(): Record<string, unknown>;
}

/** Turns a client into what a page in `locale` shows of it. */
export type ClientPresenter = (client: ClientLike | undefined, clientId: string, locale?: Locale) => ClientView;

const https = (uri: unknown): string | undefined => {
  if (typeof uri !== 'string') return undefined;
  return URL.parse(uri)?.protocol === 'https:' ? uri : undefined;
};

/**
 * Names the client (client_name, else client_id) and links only to https policy and terms
 * pages. A logo is shown only from a host the operator allowed (LATCHKEY_LOGO_HOSTS) or inlined
 * as a data: image: a logo from any other host would let the application watch who signs in
 * (or dress a phishing page), so there is then no logo at all.
 */
export function clientPresenter(options: { logoHosts: readonly string[]; productName: string }): ClientPresenter {
  const hosts = new Set(options.logoHosts.map((h) => h.toLowerCase()));
  return (client, clientId, locale) => {
    const policyUri = https(client?.policyUri);
    const tosUri = https(client?.tosUri);
    const remote = https(client?.logoUri);
    const dataLogo = clientMetadata(client).logo_data_uri;
    const logo = remote && hosts.has(new URL(remote).host) ? remote : isLogoDataUri(dataLogo) ? dataLogo : undefined;
    return {
      id: clientId,
      // Latchkey's own account page is named in the page's language, not by its registration.
      name: clientId === ACCOUNT_CLIENT_ID && locale ? translate(locale, 'account.clientName', { product: options.productName }) : (client?.clientName ?? clientId),
      ...(logo ? { logo } : {}),
      ...(policyUri ? { policyUri } : {}),
      ...(tosUri ? { tosUri } : {}),
    };
  };
}
