/** What the pages show about the application a person deals with: its name and its policy and terms links. */
export interface ClientView {
  readonly id: string;
  readonly name: string;
  readonly policyUri?: string;
  readonly tosUri?: string;
}

/** The parts of oidc-provider's Client the pages use. */
export interface ClientLike {
  readonly clientId: string;
  readonly clientName?: string | undefined;
  readonly policyUri?: string | undefined;
  readonly tosUri?: string | undefined;
}

const https = (uri: unknown) => (typeof uri === 'string' && uri.startsWith('https://') ? uri : undefined);

/** Names the client (client_name, else client_id); links only to https policy and terms pages. */
export function describeClient(client: ClientLike | undefined, clientId: string): ClientView {
  const policyUri = https(client?.policyUri);
  const tosUri = https(client?.tosUri);
  return {
    id: clientId,
    name: client?.clientName ?? clientId,
    ...(policyUri ? { policyUri } : {}),
    ...(tosUri ? { tosUri } : {}),
  };
}
