import type { ClientMetadata, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { errors, interactionPolicy } from 'oidc-provider';
import { parsePasskeyPolicy } from '../domain/passkeys/policy.ts';
import { acrRank, effectiveRank, meets, requiredLevel } from '../domain/step-up.ts';
import { accountClaims, type AccountRepository } from '../domain/accounts.ts';
import type { Render } from '../http/views.ts';
import type { ClientPresenter } from '../http/client-view.ts';
import { isLogoDataUri, LOGO_DATA_URI_MAX } from './client-logo.ts';
import { clientMetadata } from './client-metadata.ts';
import { localeOf } from '../http/locale.ts';
import { errorMessage, LOCALES, translate } from '../i18n/index.ts';
import type { KeyMaterial } from '../storage/repositories/keys.ts';
import type { Config } from './env.ts';
import type { Adapter } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { API_SCOPES, apiResource, grantableApiScopes } from './api.ts';
import type { FetchLike } from '../http/backchannel/ping.ts';
import { AuthorizationDetailError, TRANSFER_TYPE, validateTransfer } from '../domain/authorization-details.ts';

/** How long a browser stays signed in (oidc-provider's Session lifetime). */
export const SESSION_TTL_SECONDS = 14 * 24 * 3600;

const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';

/**
 * The resource a backchannel request with authorization_details names by default (oidc-provider
 * requires one with Rich Authorization Requests): the requesting application itself, which
 * carries out what the person approved.
 */
export function backchannelResource(clientId: string): string {
  return `urn:latchkey:client:${encodeURIComponent(clientId)}`;
}

export interface OidcDeps {
  readonly config: Config;
  readonly keys: KeyMaterial;
  readonly accounts: AccountRepository;
  readonly adapter: (model: string) => Adapter;
  readonly clients: ClientMetadata[];
  readonly render: Render;
  /** What the pages show of an application (name, allowed logo, policy and terms links). */
  readonly presentClient: ClientPresenter;
  /** The grant an account already gave a client, from any earlier session. */
  readonly findGrantId: (accountId: string, clientId: string) => Promise<string | undefined>;
  /** Milliseconds since the epoch (Latchkey's clock, so tests can age a session). */
  readonly clock: () => number;
  /** oidc-provider's outbound requests (CIBA ping notifications); see src/http/backchannel/ping.ts. */
  readonly fetch?: FetchLike;
  /** Backchannel approval (OpenID CIBA, poll and ping modes): who a login_hint names, and how to reach them. */
  readonly ciba?: {
    readonly resolveLoginHint: (hint: unknown) => Promise<string | undefined>;
    readonly validBindingMessage: (message: unknown) => boolean;
    readonly triggerAuthenticationDevice: (ctx: KoaContextWithOIDC, request: InstanceType<Provider['BackchannelAuthenticationRequest']>, clientName: string) => Promise<void>;
  };
}

/** Client metadata Latchkey adds to the standard set. */
export const LATCHKEY_CLIENT_METADATA = ['first_party', 'minimum_acr', 'passkey_policy', 'logo_data_uri'] as const;

/** Client URIs people follow or load from the pages: https only (no plain-http link, no mixed content). */
const HTTPS_ONLY_CLIENT_URIS = ['logo_uri', 'policy_uri', 'tos_uri'] as const;

/**
 * The interaction policy: oidc-provider's, with its exact-match acr checks replaced by one
 * that treats acr_values, an essential acr claim and the client's minimum_acr as a
 * requirement, against the level the session still holds (levels decay with age).
 */
function buildPolicy(config: Config, clock: () => number): ReturnType<typeof interactionPolicy.base> {
  const policy = interactionPolicy.base();
  const login = policy.get('login')!;
  login.checks.remove('essential_acrs');
  login.checks.remove('essential_acr');
  login.checks.add(
    new interactionPolicy.Check(
      'acr_required',
      'the session does not meet the requested authentication context',
      'unmet_authentication_requirements',
      (ctx) => {
        const { oidc } = ctx;
        if (!oidc.session?.accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        const requirement = requiredLevel(
          { acrValues: oidc.params?.acr_values, claims: oidc.claims, clientMinimumAcr: clientMetadata(oidc.client).minimum_acr },
          config.acr,
        );
        const rank = effectiveRank(
          { acr: oidc.session.acr, authTime: oidc.session.authTime() },
          Math.floor(clock() / 1000),
          config.acr,
          config.acrMaxAge,
        );
        return meets(rank, requirement) ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
      },
    ),
  );
  return policy;
}

/** Builds oidc-provider's configuration: no development defaults, everything from Config and the database. */
export function buildOidcConfiguration(deps: OidcDeps): Configuration {
  const { config, keys, accounts, render } = deps;
  return {
    adapter: deps.adapter,
    clients: deps.clients,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    jwks: keys.jwks as Configuration['jwks'],
    cookies: {
      keys: keys.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    // The languages the hosted pages speak; an application picks one with ui_locales.
    discovery: { ui_locales_supported: [...LOCALES] },
    acrValues: [config.acr.otp, config.acr.pop, config.acr.phr, config.acr.phrh],
    // acr, amr and auth_time ride on the openid scope, so every ID token says how the person
    // authenticated, whether or not the application asked.
    claims: {
      sid: null,
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', ...API_SCOPES],
    responseTypes: ['code'],
    // PKCE (S256) for every client, confidential ones included.
    pkce: { required: () => true },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
      token_endpoint_auth_method: 'client_secret_basic',
      // auth_time in every ID token: relying parties must be able to see how fresh the sign-in is.
      require_auth_time: true,
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256', 'RS256'],
      userinfoSigningAlgValues: ['ES256', 'RS256'],
      introspectionSigningAlgValues: ['ES256', 'RS256'],
      authorizationSigningAlgValues: ['ES256', 'RS256'],
      requestObjectSigningAlgValues: ['ES256', 'RS256', 'PS256', 'EdDSA'],
    },
    extraClientMetadata: {
      properties: [...LATCHKEY_CLIENT_METADATA],
      validator(ctx, key, value, metadata) {
        // Management API scopes and CIBA are for clients the operator configured, never for self-registered ones.
        if (key === 'first_party' && ctx && (ctx.oidc?.route === 'registration' || ctx.oidc?.route === 'client_update')) {
          if (grantableApiScopes(typeof metadata.scope === 'string' ? metadata.scope : undefined).length > 0) {
            throw new errors.InvalidClientMetadata('management API scopes cannot be requested through dynamic registration');
          }
          // Backchannel requests mail people in the client's name: operator-configured clients only.
          if (Array.isArray(metadata.grant_types) && metadata.grant_types.includes('urn:openid:params:grant-type:ciba')) {
            throw new errors.InvalidClientMetadata('the CIBA grant cannot be requested through dynamic registration');
          }
        }
        // Called once per client for each of Latchkey's properties: checked at the first one.
        if (key === 'first_party') {
          for (const uri of HTTPS_ONLY_CLIENT_URIS) {
            if (metadata[uri] !== undefined && URL.parse(String(metadata[uri]))?.protocol !== 'https:') {
              throw new errors.InvalidClientMetadata(`${uri} must be an https URL`);
            }
          }
        }
        if (key === 'logo_data_uri' && value !== undefined && !isLogoDataUri(value)) {
          throw new errors.InvalidClientMetadata(`logo_data_uri must be a base64 data: URI of a PNG, JPEG, GIF, WebP or SVG image, at most ${LOGO_DATA_URI_MAX / 1024} KB`);
        }
        if (key === 'first_party' && value !== undefined) {
          if (typeof value !== 'boolean') throw new errors.InvalidClientMetadata('first_party must be a boolean');
          // Skipping consent is for clients the operator configured, never for self-registered ones.
          if (value && ctx && ctx.oidc?.route === 'registration') {
            throw new errors.InvalidClientMetadata('first_party cannot be set through dynamic registration');
          }
        }
        if (key === 'passkey_policy') {
          try {
            parsePasskeyPolicy(value);
          } catch (error) {
            throw new errors.InvalidClientMetadata((error as Error).message);
          }
        }
        if (key === 'minimum_acr' && value !== undefined && acrRank(value, config.acr) < 0) {
          throw new errors.InvalidClientMetadata(`minimum_acr must be one of ${Object.values(config.acr).join(', ')}`);
        }
      },
    },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      clientCredentials: { enabled: true },
      // Device authorization grant (RFC 8628): the person enters the code on Latchkey's page and
      // signs in with a passkey there (the usual interaction), for TVs and command-line tools.
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        userCodeInputSource: async (ctx, _form, _out, err) => {
          // Latchkey's own form (labelled, no inline handlers under the CSP), posting what oidc-provider's would.
          const locale = localeOf(ctx);
          const error = err
            ? (err as { name?: string }).name === 'AbortedError'
              ? translate(locale, 'device.errorAborted')
              : (err as { name?: string }).name === 'NoCodeError' || (err as { userCode?: string }).userCode
                ? translate(locale, 'device.errorInvalid')
                : translate(locale, 'device.errorOther')
            : undefined;
          ctx.type = 'html';
          ctx.body = render('device-code.njk', locale, {
            title: translate(locale, 'device.title'),
            action: ctx.oidc.urlFor('code_verification'),
            xsrf: (ctx.oidc.session?.state as { secret?: string } | undefined)?.secret,
            error,
          });
        },
        userCodeConfirmSource: async (ctx, form, client, _deviceInfo, userCode) => {
          const locale = localeOf(ctx);
          ctx.type = 'html';
          ctx.body = render('device-confirm.njk', locale, { title: translate(locale, 'device.confirmTitle'), form, client: deps.presentClient(client, client.clientId), userCode });
        },
        successSource: async (ctx) => {
          const locale = localeOf(ctx);
          const client = ctx.oidc.client;
          ctx.type = 'html';
          ctx.body = render('device-done.njk', locale, { title: translate(locale, 'device.doneTitle'), client: client ? deps.presentClient(client, client.clientId) : undefined });
        },
      },
      ciba: deps.ciba
        ? {
            enabled: true,
            // ping: oidc-provider notifies the client's https backchannel_client_notification_endpoint
            // (Bearer client_notification_token, the auth_req_id) once the person decided.
            deliveryModes: ['poll', 'ping'],
            processLoginHint: async (_ctx, hint) => (await deps.ciba!.resolveLoginHint(hint)) ?? '',
            processLoginHintToken: async () => {
              throw new errors.InvalidRequest('login_hint_token is not supported; use login_hint');
            },
            // The message is shown to the person on the approval page, spaces and all.
            validateBindingMessage: async (_ctx, message) => {
              if (!deps.ciba!.validBindingMessage(message)) {
                throw new errors.InvalidBindingMessage('binding_message must be 1 to 100 printable characters');
              }
            },
            validateRequestContext: async () => {},
            verifyUserCode: async (_ctx, _account, userCode) => {
              if (userCode !== undefined) throw new errors.InvalidRequest('user_code is not supported');
            },
            triggerAuthenticationDevice: async (ctx, request, _account, client) =>
              deps.ciba!.triggerAuthenticationDevice(ctx, request, client.clientName ?? client.clientId),
          }
        : { enabled: false },
      // The management API (/api/v1) is a resource server: client-credentials tokens for it
      // carry the API scopes the client's `scope` metadata allows, and nothing else does.
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx) => {
          if (ctx.oidc.params?.grant_type === 'client_credentials') return apiResource(config.issuer);
          if (ctx.oidc.route === 'backchannel_authentication' && ctx.oidc.params?.authorization_details && ctx.oidc.client) {
            return backchannelResource(ctx.oidc.client.clientId);
          }
          return undefined;
        },
        useGrantedResource: () => false,
        getResourceServerInfo: (ctx, resource, client) => {
          // A backchannel request's own application; its access token still serves userinfo
          // (useGrantedResource is off) and carries the approved authorization_details.
          if (resource === backchannelResource(client.clientId)) {
            const ciba = ctx.oidc.route === 'backchannel_authentication' || (ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === CIBA_GRANT);
            if (!ciba) throw new errors.InvalidTarget('unknown resource indicator');
            return { scope: '', audience: client.clientId, accessTokenFormat: 'opaque' };
          }
          if (resource !== apiResource(config.issuer)) throw new errors.InvalidTarget('unknown resource indicator');
          // Only a backend acting for itself gets an API token: never one delegated by a person.
          if (ctx.oidc.route !== 'token' || ctx.oidc.params?.grant_type !== 'client_credentials') {
            throw new errors.InvalidTarget('the management API accepts client credentials tokens only');
          }
          const scopes = grantableApiScopes(client.scope);
          if (scopes.length === 0) throw new errors.InvalidTarget('this client may not use the management API');
          return { scope: scopes.join(' '), audience: apiResource(config.issuer), accessTokenFormat: 'opaque', accessTokenTTL: 600 };
        },
      },
      // Rich Authorization Requests (RFC 9396) on backchannel requests only: the application
      // describes the action (a transfer: amount, currency, payee), the approval page shows it,
      // and the token response returns what the person approved.
      richAuthorizationRequests: {
        enabled: true,
        types: {
          [TRANSFER_TYPE]: {
            validate: (ctx, detail) => {
              if (ctx.oidc.route !== 'backchannel_authentication') {
                throw new errors.InvalidAuthorizationDetails('authorization_details are accepted on backchannel authentication requests only');
              }
              try {
                validateTransfer(detail as Record<string, unknown>);
              } catch (error) {
                if (error instanceof AuthorizationDetailError) throw new errors.InvalidAuthorizationDetails(error.message);
                throw error;
              }
            },
          },
        },
        // Authorization codes and device codes never carry details (validate refuses them there).
        authorizationDetailsForGrantSource: () => undefined,
        // Exactly what the person approved (stored on the backchannel request by the approval page).
        authorizationDetailsForAccessToken: (ctx, _token, source) =>
          ctx.oidc.params?.grant_type === CIBA_GRANT && source?.kind === 'BackchannelAuthenticationRequest' ? source.rar : undefined,
        authorizationDetailsForIntrospection: (ctx, token) => (ctx.oidc.client?.clientId === token.clientId ? token.rar : undefined),
      },
      registration: config.initialAccessToken
        ? { enabled: true, initialAccessToken: config.initialAccessToken }
        : { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          const locale = localeOf(ctx, ctx.oidc.params?.ui_locales);
          const client = ctx.oidc.client;
          ctx.type = 'html';
          ctx.body = render('logout.njk', locale, {
            title: translate(locale, 'logout.title'),
            form,
            client: client ? deps.presentClient(client, client.clientId) : undefined,
          });
        },
        postLogoutSuccessSource: async (ctx) => {
          const locale = localeOf(ctx, ctx.oidc.params?.ui_locales);
          const client = ctx.oidc.client;
          ctx.type = 'html';
          ctx.body = render('logged-out.njk', locale, { title: translate(locale, 'loggedOut.title'), client: client ? deps.presentClient(client, client.clientId) : undefined });
        },
      },
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: buildPolicy(config, deps.clock),
    },
    // Consent is remembered per account and client across sessions; first-party clients skip
    // the consent page altogether (their grant covers what they ask for).
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const client = ctx.oidc.client!;
      const accountId = ctx.oidc.session?.accountId;
      const grantId =
        ctx.oidc.result?.consent?.grantId ??
        ctx.oidc.session!.grantIdFor(client.clientId) ??
        (accountId ? await deps.findGrantId(accountId, client.clientId) : undefined);
      if (grantId) {
        const grant = await ctx.oidc.provider.Grant.find(grantId);
        // A grant of another account (session switched users) is never reused.
        if (grant && grant.accountId === accountId && grant.clientId === client.clientId) return grant;
      }
      if (clientMetadata(client).first_party === true && accountId) {
        const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId });
        if (ctx.oidc.params?.scope) grant.addOIDCScope(String(ctx.oidc.params.scope));
        if (ctx.oidc.params?.claims) {
          const claims = JSON.parse(String(ctx.oidc.params.claims)) as { id_token?: object; userinfo?: object };
          grant.addOIDCClaims([...Object.keys(claims.id_token ?? {}), ...Object.keys(claims.userinfo ?? {})]);
        }
        await grant.save();
        return grant;
      }
      return undefined;
    },
    async findAccount(_ctx, sub) {
      const account = await accounts.findById(sub);
      // A disabled or deleted account gets nothing: no userinfo, no refresh.
      if (!account || account.status !== 'active') return undefined;
      return {
        accountId: account.id,
        async claims() {
          return accountClaims(account) as { sub: string };
        },
      };
    },
    async renderError(ctx, out) {
      // oidc-provider's descriptions are for developers: other languages get a sentence for the code.
      const locale = localeOf(ctx, ctx.oidc?.params?.ui_locales);
      const client = ctx.oidc?.client;
      ctx.type = 'html';
      ctx.body = render('error.njk', locale, {
        title: translate(locale, 'errorPage.title'),
        error: out.error,
        description: errorMessage(locale, out.error, out.error_description),
        client: client ? deps.presentClient(client, client.clientId) : undefined,
      });
    },
    rotateRefreshToken: true,
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      ClientCredentials: 600,
      IdToken: 600,
      Interaction: 3600,
      Grant: 14 * 24 * 3600,
      RefreshToken: 14 * 24 * 3600,
      Session: SESSION_TTL_SECONDS,
      DeviceCode: 600,
      BackchannelAuthenticationRequest: 600,
    },
  };
}
