import type { Redis } from 'ioredis';
import Koa from 'koa';
import mount from 'koa-mount';
import Provider from 'oidc-provider';
import type { ClientMetadata } from 'oidc-provider';
import type { Config } from './config/env.ts';
import { ACCOUNT_CALLBACK_PATH, ACCOUNT_CLIENT_ID, accountClient } from './config/account-client.ts';
import { MetadataService } from '@simplewebauthn/server';
import { readAuthenticatorMetadata } from './config/authenticator-metadata.ts';
import { readMdsBlob } from './config/mds-blob.ts';
import { buildOidcConfiguration, SESSION_TTL_SECONDS } from './config/oidc.ts';
import { rememberSessionPasskey } from './http/session-passkeys.ts';
import { KnexSessionPasskeys } from './storage/repositories/session-passkeys.ts';
import { AccountSelfService } from './domain/account/self-service.ts';
import type { Clock } from './domain/clock.ts';
import { EmailCodes } from './domain/email-codes.ts';
import type { Mailer } from './domain/mailer.ts';
import { PasskeyCeremonies } from './domain/passkeys/ceremonies.ts';
import { AuthenticatorStatuses } from './domain/passkeys/authenticator-status.ts';
import { SignIn } from './domain/signin.ts';
import { Recovery } from './domain/recovery.ts';
import { Signup } from './domain/signup.ts';
import { accountRouter } from './http/account/router.ts';
import { AccountSignIn } from './http/account/sign-in.ts';
import { assetsRouter, BRAND_LOGO_PATH, BRAND_STYLESHEET_PATH, brandStylesheet } from './http/assets.ts';
import { interactionRouter } from './http/interactions/router.ts';
import { csrfProtection } from './http/middleware/csrf.ts';
import { errorHandler, isStorageUnavailable } from './http/middleware/errors.ts';
import { countCeremonies, observeRequests } from './http/middleware/observe.ts';
import { operationsRouter } from './http/operations.ts';
import { RateLimits, storeFactory } from './http/middleware/rate-limit.ts';
import { securityHeaders } from './http/middleware/security-headers.ts';
import { tokenRateLimit } from './http/middleware/token-rate-limit.ts';
import { createRenderer } from './http/views.ts';
import { clientPresenter } from './http/client-view.ts';
import { negotiateRequestLocale } from './http/locale.ts';
import type { Logger } from './logging.ts';
import { Metrics } from './metrics.ts';
import { createAccountMessages, createMessages } from './mail/messages.ts';
import type { Db } from './storage/db.ts';
import { checkDatabase } from './storage/health.ts';
import { findGrantId, KnexOidcAdapter } from './storage/oidc-adapter.ts';
import { KnexAccountActivity } from './storage/repositories/account-activity.ts';
import { KnexAccountPasskeyStore } from './storage/repositories/account-passkeys.ts';
import { KnexAccountRepository } from './storage/repositories/accounts.ts';
import { KnexChallengeRepository } from './storage/repositories/challenges.ts';
import { KnexEmailCodeRepository } from './storage/repositories/email-codes.ts';
import { loadKeys, loadOrCreateKeys } from './storage/repositories/keys.ts';
import { replaceProviderKeys } from './config/provider-keys.ts';
import { withExternalKeys } from './config/external-keys.ts';
import { KnexPasskeyRepository } from './storage/repositories/passkeys.ts';
import { KnexRecoveryStore } from './storage/repositories/recovery.ts';
import { KnexSignupStore } from './storage/repositories/signup.ts';
import { createHmac, randomUUID } from 'node:crypto';
import { apiResource } from './config/api.ts';
import { managementServices } from './domain/management/services.ts';
import { managementApi } from './http/api/router.ts';
import { KnexManagedUserStore } from './storage/repositories/managed-users.ts';
import { AuditLog } from './domain/events.ts';
import { WebhookDispatcher, Webhooks } from './domain/webhooks.ts';
import { eventRoutes, eventsOpenApi, webhookRoutes } from './http/api/events.ts';
import { KnexEventStore } from './storage/repositories/events.ts';
import { KnexDeliveryStore, KnexWebhookStore } from './storage/repositories/webhooks.ts';
import { FetchWebhookSender } from './webhooks/sender.ts';
import { enrollmentRoutes, enrollmentsOpenApi } from './http/api/enrollments.ts';
import { ENROLL_PATH, enrollRouter } from './http/enroll/router.ts';
import { createEnrollmentMessages } from './mail/enrollment-messages.ts';
import { KnexEnrollmentStore } from './storage/repositories/enrollments.ts';
import { Backchannel } from './domain/backchannel.ts';
import { APPROVE_PATH, approvalRouter } from './http/backchannel/router.ts';
import { createBackchannelMessages } from './mail/backchannel-messages.ts';
import { outboundFetch } from './http/backchannel/ping.ts';
import { enforcePollingInterval } from './http/backchannel/polling.ts';
import { KnexBackchannelStore, KnexLoginHintDirectory } from './storage/repositories/backchannel.ts';

export interface AppDeps {
  readonly config: Config;
  readonly db: Db;
  readonly logger: Logger;
  readonly mailer: Mailer;
  readonly clients: ClientMetadata[];
  readonly clock: Clock;
  /** Shared rate-limit counters in Redis (REDIS_URL); without it they live in the database. */
  readonly redis?: Redis;
}

export interface LatchkeyApp {
  readonly app: Koa;
  readonly provider: Provider;
  readonly metrics: Metrics;
  /** Makes /readyz answer 503 from now on, so load balancers stop routing here (shutdown). */
  startDraining(): void;
  /**
   * Re-reads the signing keys and cookie secrets from the database and, when a rotation
   * changed them, swaps them in without a restart. Resolves to true when something changed.
   */
  reloadKeys(): Promise<boolean>;
  /** Sends queued webhook deliveries once started; `stop()` before closing the database. */
  readonly webhookDispatcher: WebhookDispatcher;
}

/** How long a webhook receiver has to answer one delivery. */
const WEBHOOK_TIMEOUT_MS = 10_000;

/** Composes Latchkey: security headers and errors around the hosted pages and the OIDC provider. */
export async function createApp(deps: AppDeps): Promise<LatchkeyApp> {
  const { config, db, logger, clock } = deps;
  const keys = withExternalKeys(await loadOrCreateKeys(db, clock()), config.externalKeys);
  // Authenticator metadata from a FIDO MDS BLOB: attestation of known models must then chain to
  // their published roots (@simplewebauthn/server checks it), and the pages can name them.
  const mds = config.mdsBlob ? await readMdsBlob(config.mdsBlob, config.mdsRoot) : [];
  if (mds.length > 0) {
    // mdsServers: [] — never download anything; the operator supplies the BLOB.
    await MetadataService.initialize({ statements: mds.map((m) => m.statement), mdsServers: [], verificationMode: 'permissive' });
  }
  const { branding } = config;
  const presentClient = clientPresenter({ logoHosts: config.logoHosts, productName: branding.productName });
  const render = createRenderer({
    productName: branding.productName,
    logoSrc: branding.logo?.kind === 'url' ? branding.logo.url : branding.logo ? BRAND_LOGO_PATH : undefined,
    stylesheet: brandStylesheet(branding) ? BRAND_STYLESHEET_PATH : undefined,
    supportUrl: branding.supportUrl,
  });
  // Security events go to the audit log and, through its outbox, to subscribed webhooks.
  const events = new AuditLog({
    store: new KnexEventStore(db),
    clock,
    newId: () => `evt_${randomUUID().replaceAll('-', '')}`,
    reportFailure: (error, event) => logger.error({ err: error, event: event.type }, 'could not record a security event'),
  });

  const accounts = new KnexAccountRepository(db);
  const passkeys = new KnexPasskeyRepository(db);
  const ceremonies = new PasskeyCeremonies(
    { id: config.rpId, name: config.rpName, origins: config.origins, challengeTtl: config.challengeTtl },
    new KnexChallengeRepository(db),
    passkeys,
    clock,
    AuthenticatorStatuses.from(mds),
  );
  const codes = new EmailCodes(new KnexEmailCodeRepository(db), { ttlSeconds: config.emailCodeTtl, maxAttempts: config.emailCodeMaxAttempts }, clock);
  // Secrets derived from the first cookie secret, so each purpose has its own, none is stored
  // twice, and every node derives the same ones whatever cookie key is active.
  const derive = (purpose: string) => createHmac('sha256', keys.derivationSecret).update(purpose).digest();
  const signIn = new SignIn({ accounts, passkeys, ceremonies, acr: config.acr, decoySecret: derive('decoy-credentials'), events });
  // Every mail carries the same product name, signature and support line, in the reader's language.
  const mailBranding = { productName: branding.productName, issuer: config.issuer, supportUrl: branding.supportUrl, defaultLocale: config.defaultLocale };
  const messages = createMessages(mailBranding);
  const recovery =
    config.recovery === 'email'
      ? new Recovery({
          accounts,
          passkeys,
          codes,
          ceremonies,
          store: new KnexRecoveryStore(db),
          mailer: deps.mailer,
          messages,
          acr: config.acr,
          codeTtlSeconds: config.emailCodeTtl,
          clock,
          events,
        })
      : undefined;
  const signup = new Signup({
    accounts,
    codes,
    ceremonies,
    store: new KnexSignupStore(db),
    mailer: deps.mailer,
    messages,
    acr: config.acr,
    codeTtlSeconds: config.emailCodeTtl,
    clock,
    events,
  });

  // Backchannel approval (CIBA): the application names the person, Latchkey reaches them.
  const backchannel = new Backchannel({
    store: new KnexBackchannelStore(db),
    directory: new KnexLoginHintDirectory(db),
    accounts,
    signIn,
    mailer: deps.mailer,
    messages: createBackchannelMessages(mailBranding),
    approvalUrl: (token) => `${config.issuer}${APPROVE_PATH}/${token}`,
    clock,
    newId: () => `bca_${randomUUID().replaceAll('-', '')}`,
    events,
  });

  const provider = new Provider(
    config.issuer,
    buildOidcConfiguration({
      config,
      keys,
      accounts,
      adapter: (model) => new KnexOidcAdapter(db, model),
      findGrantId: (accountId, clientId) => findGrantId(db, accountId, clientId, clock()),
      clock,
      // The account page signs people in to Latchkey itself as a built-in first-party client.
      clients: [...deps.clients, accountClient(config.issuer, branding.productName)],
      render,
      presentClient,
      fetch: outboundFetch({ allowPrivate: config.ciba.pingAllowPrivate, caFile: config.ciba.pingCaFile }),
      ciba: {
        resolveLoginHint: (hint) => backchannel.resolveLoginHint(hint),
        validBindingMessage: (message) => Backchannel.validBindingMessage(message),
        triggerAuthenticationDevice: (ctx, request, clientName) =>
          backchannel.requestApproval({
            requestId: request.jti,
            accountId: request.accountId!,
            clientId: request.clientId!,
            clientName,
            bindingMessage: typeof ctx.oidc.params?.binding_message === 'string' ? ctx.oidc.params.binding_message : null,
            // Validated by the richAuthorizationRequests feature (src/domain/authorization-details.ts).
            details: typeof ctx.oidc.params?.authorization_details === 'string' ? (JSON.parse(ctx.oidc.params.authorization_details) as Record<string, unknown>[]) : null,
            scope: request.scope ?? null,
            expiresAt: clock() + request.expiration * 1000,
          },
          // The mail speaks the language the backend asked for with ui_locales (else the default).
          typeof ctx.oidc.params?.ui_locales === 'string' ? ctx.oidc.params.ui_locales : undefined),
      },
    }),
  );
  provider.proxy = config.trustProxy;
  // CIBA polling: `interval` in the backchannel response, `slow_down` for a client that polls faster.
  const pollGate = storeFactory(db, deps.redis)('rl:ciba-poll', { points: 1, duration: config.ciba.pollInterval });
  await pollGate.ready;
  provider.use(enforcePollingInterval(provider, pollGate.limiter, config.ciba.pollInterval));
  // Which passkey each session signed in with: removing it signs those browsers out.
  provider.use(rememberSessionPasskey(new KnexSessionPasskeys(db), SESSION_TTL_SECONDS, clock));
  provider.on('server_error', (ctx, error) => {
    logger.error({ err: error }, 'oidc-provider server_error');
    // The body (server_error) is already set; a storage outage is temporary, so say so.
    if (isStorageUnavailable(error)) {
      ctx.status = 503;
      ctx.set('Retry-After', '5');
    }
  });

  const https = new URL(config.issuer).protocol === 'https:';
  const csrf = csrfProtection({ secret: derive('csrf').toString('base64url'), origin: new URL(config.issuer).origin, secure: https });

  if (deps.clients.some((c) => c.client_id === ACCOUNT_CLIENT_ID)) {
    throw new Error(`client_id ${ACCOUNT_CLIENT_ID} is reserved for Latchkey's account page; rename that client`);
  }

  const metrics = new Metrics();
  const deliveries = new KnexDeliveryStore(db);
  metrics.watchWebhookBacklog(() => deliveries.backlog(), clock);
  let draining = false;
  const operations = operationsRouter({
    metrics,
    metricsToken: config.metricsToken,
    databaseHealth: () => checkDatabase(db, 2000),
    draining: () => draining,
  });

  const app = new Koa();
  // The parent app signs cookies with the same keys as oidc-provider, or interaction cookies break.
  app.keys = keys.cookieKeys;
  app.proxy = config.trustProxy;
  // Only the entries our own proxies appended to X-Forwarded-For are believed; a client can prepend anything.
  app.maxIpsCount = config.proxyHops;
  const limits = new RateLimits(storeFactory(db, deps.redis), config.rateLimitScale);
  await limits.ready;
  app.use(observeRequests(logger, metrics));
  // oidc-provider builds absolute URLs (discovery, the redirect back to /auth after a page) from
  // the request's Host, or X-Forwarded-Host behind a trusted proxy. Both are pinned to the
  // issuer's, so a forged header can neither poison a cached discovery document nor redirect.
  const issuerHost = new URL(config.issuer).host;
  app.use(async (ctx, next) => {
    ctx.req.headers.host = issuerHost;
    delete ctx.req.headers['x-forwarded-host'];
    await next();
  });
  // Images load from Latchkey itself, data: URIs, and the operator's own logo host.
  app.use(
    securityHeaders({
      https,
      imgSources: [
        ...(branding.logo?.kind === 'url' ? [new URL(branding.logo.url).origin] : []),
        // Exactly the hosts whose client logos the pages may show.
        ...config.logoHosts.map((host) => `https://${host}`),
      ],
    }),
  );
  app.use(negotiateRequestLocale(config.defaultLocale));
  app.use(
    errorHandler(logger, render, {
      // Only on the error path: the interaction a route loaded names the application.
      clientOf: async (ctx) => {
        const clientId = (ctx.state.interaction as { params?: { client_id?: unknown } } | undefined)?.params?.client_id;
        return typeof clientId === 'string' ? presentClient(await provider.Client.find(clientId), clientId) : undefined;
      },
    }),
  );
  app.use(countCeremonies(provider, metrics));
  app.use(operations.routes());
  app.use(tokenRateLimit(limits, '/token'));
  const interactions = interactionRouter({ provider, present: presentClient, signIn, signup, recovery, accounts, acr: config.acr, render, clock, csrf, limits });
  const account = accountRouter({
    service: new AccountSelfService({
      accounts,
      passkeys,
      store: new KnexAccountPasskeyStore(db),
      activity: new KnexAccountActivity(db),
      ceremonies,
      // The operator's AAGUID file names models first; the MDS BLOB fills in the rest.
      catalog: readAuthenticatorMetadata(config.authenticatorMetadata).withFallback(
        mds.map((m) => ({ aaguid: m.aaguid, name: m.name, ...(m.icon ? { iconLight: m.icon, iconDark: m.icon } : {}) })),
      ),
      clients: { nameOf: async (clientId) => (await provider.Client.find(clientId))?.clientName },
      mailer: deps.mailer,
      messages: createAccountMessages(mailBranding),
      acr: config.acr,
      reauthSeconds: config.accountReauthSeconds,
      recovery: config.recovery,
      internalClientIds: [ACCOUNT_CLIENT_ID],
      clock,
      reportMailFailure: (error) => logger.error({ err: error }, 'could not send the mail about a passkey change'),
      events,
    }),
    signIn: new AccountSignIn({
      provider,
      issuer: config.issuer,
      clientId: ACCOUNT_CLIENT_ID,
      callbackPath: ACCOUNT_CALLBACK_PATH,
      passkeyAcr: config.acr.phr,
      secure: https,
    }),
    render,
    csrf,
    limits,
    rpId: config.rpId,
    reauthSeconds: config.accountReauthSeconds,
    secure: https,
  });
  const assets = assetsRouter(branding);
  app.use(assets.routes());
  app.use(interactions.routes());
  app.use(interactions.allowedMethods());
  app.use(account.routes());
  app.use(account.allowedMethods());
  // The management API: JSON for backends, behind client-credentials tokens Latchkey issues.
  const { users, enrollments } = managementServices({
    users: new KnexManagedUserStore(db),
    enrollments: new KnexEnrollmentStore(db),
    accounts,
    passkeys,
    ceremonies,
    mailer: deps.mailer,
    messages: createEnrollmentMessages(mailBranding),
    linkUrl: (token) => `${config.issuer}${ENROLL_PATH}/${token}`,
    clock,
    events,
  });
  const approvals = approvalRouter({
    provider,
    present: presentClient,
    backchannel,
    render,
    csrf,
    limits,
    clock,
    // The decision is recorded either way; a ping client that missed the notification can still poll.
    reportPingFailure: (error) => logger.warn({ err: error }, 'could not ping the client about a backchannel decision'),
  });
  app.use(approvals.routes());
  app.use(approvals.allowedMethods());
  const enroll = enrollRouter({
    enrollments,
    findClient: async (clientId) => {
      const client = await provider.Client.find(clientId);
      return client ? presentClient(client, clientId) : undefined;
    },
    render,
    csrf,
    limits,
  });
  app.use(enroll.routes());
  app.use(enroll.allowedMethods());
  const webhooks = new Webhooks({ store: new KnexWebhookStore(db), clock, newId: () => `wh_${randomUUID().replaceAll('-', '')}`, allowHttp: config.webhooks.allowHttp });
  app.use(
    mount(
      '/api/v1',
      managementApi({
        provider,
        issuer: config.issuer,
        resource: apiResource(config.issuer),
        logger,
        users,
        routes: [eventRoutes(events), webhookRoutes(webhooks), enrollmentRoutes(enrollments, provider, clock)],
        openApi: [eventsOpenApi, enrollmentsOpenApi],
      }),
    ),
  );
  // Each node drains the webhook outbox; claims are atomic, so running it everywhere is safe.
  const webhookDispatcher = new WebhookDispatcher({
    store: deliveries,
    sender: new FetchWebhookSender(WEBHOOK_TIMEOUT_MS, `Latchkey-Webhooks (+${config.issuer})`),
    clock,
    pollMs: config.webhooks.pollMs,
    retryBaseMs: config.webhooks.retryBaseMs,
    maxAttempts: config.webhooks.maxAttempts,
    leaseMs: WEBHOOK_TIMEOUT_MS + 30_000,
    reportFailure: (error) => logger.warn({ err: error }, 'webhook delivery pass failed; will retry'),
  });
  app.use(mount(provider));
  let keyVersion = keys.version;
  return {
    app,
    provider,
    metrics,
    webhookDispatcher,
    startDraining: () => {
      draining = true;
    },
    async reloadKeys() {
      const fresh = withExternalKeys(await loadKeys(db), config.externalKeys);
      if (fresh.version === keyVersion) return false;
      replaceProviderKeys(provider, fresh.jwks);
      // Both sign cookies: the parent app (hosted pages) and oidc-provider (its own contexts).
      app.keys = fresh.cookieKeys;
      provider.keys = fresh.cookieKeys;
      keyVersion = fresh.version;
      return true;
    },
  };
}
