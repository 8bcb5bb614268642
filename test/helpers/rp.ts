import * as oidc from 'openid-client';
import { INITIAL_ACCESS_TOKEN, type TestServer } from './app.ts';

export const REDIRECT_URI = 'https://app.example.com/callback';

/** A relying party that registered itself with the initial access token, as a real application would. */
export async function registerRelyingParty(server: TestServer, metadata: Record<string, unknown> = {}): Promise<oidc.Configuration> {
  return oidc.dynamicClientRegistration(
    new URL(server.issuer),
    {
      client_name: 'Test App',
      redirect_uris: [REDIRECT_URI],
      post_logout_redirect_uris: ['https://app.example.com/signed-out'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...metadata,
    },
    undefined,
    { initialAccessToken: INITIAL_ACCESS_TOKEN, execute: [oidc.allowInsecureRequests] },
  );
}

export interface AuthorizationRequest {
  readonly url: URL;
  readonly verifier: string;
  readonly state: string;
  readonly nonce: string;
}

/** Builds an authorization request with PKCE (S256), state and nonce. */
export async function authorizationRequest(config: oidc.Configuration, params: Record<string, string> = {}): Promise<AuthorizationRequest> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, verifier, state, nonce };
}

/** Redeems the code the way a relying party must: PKCE, state, nonce, ID token signature and claims checked. */
export async function redeem(config: oidc.Configuration, request: AuthorizationRequest, callbackUrl: string) {
  return oidc.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
    idTokenExpected: true,
  });
}
