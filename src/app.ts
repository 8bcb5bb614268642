import Koa from 'koa';
import mount from 'koa-mount';
import Provider from 'oidc-provider';
import type { ClientMetadata } from 'oidc-provider';
import type { Config } from './config/env.ts';
import { buildOidcConfiguration } from './config/oidc.ts';
import type { Clock } from './domain/clock.ts';
import { EmailCodes } from './domain/email-codes.ts';
import type { Mailer } from './domain/mailer.ts';
import { PasskeyCeremonies } from './domain/passkeys/ceremonies.ts';
import { SignIn } from './domain/signin.ts';
import { Recovery } from './domain/recovery.ts';
import { Signup } from './domain/signup.ts';
import { assetsRouter } from './http/assets.ts';
import { interactionRouter } from './http/interactions/router.ts';
import { csrfProtection } from './http/middleware/csrf.ts';
import { errorHandler } from './http/middleware/errors.ts';
import { securityHeaders } from './http/middleware/security-headers.ts';
import { createRenderer } from './http/views.ts';
import type { Logger } from './logging.ts';
import { createMessages } from './mail/messages.ts';
import type { Db } from './storage/db.ts';
import { findGrantId, KnexOidcAdapter } from './storage/oidc-adapter.ts';
import { KnexAccountRepository } from './storage/repositories/accounts.ts';
import { KnexChallengeRepository } from './storage/repositories/challenges.ts';
import { KnexEmailCodeRepository } from './storage/repositories/email-codes.ts';
import { loadOrCreateKeys } from './storage/repositories/keys.ts';
import { KnexPasskeyRepository } from './storage/repositories/passkeys.ts';
import { KnexRecoveryStore } from './storage/repositories/recovery.ts';
import { KnexSignupStore } from './storage/repositories/signup.ts';
import { createHmac } from 'node:crypto';

export interface AppDeps {
  readonly config: Config;
  readonly db: Db;
  readonly logger: Logger;
  readonly mailer: Mailer;
  readonly clients: ClientMetadata[];
  readonly clock: Clock;
}

export interface LatchkeyApp {
  readonly app: Koa;
  readonly provider: Provider;
}

/** Composes Latchkey: security headers and errors around the hosted pages and the OIDC provider. */
export async function createApp(deps: AppDeps): Promise<LatchkeyApp> {
  const { config, db, logger, clock } = deps;
  const keys = await loadOrCreateKeys(db, clock());
  const render = createRenderer({ productName: config.rpName });

  const accounts = new KnexAccountRepository(db);
  const passkeys = new KnexPasskeyRepository(db);
  const ceremonies = new PasskeyCeremonies(
    { id: config.rpId, name: config.rpName, origins: config.origins, challengeTtl: config.challengeTtl },
    new KnexChallengeRepository(db),
    passkeys,
    clock,
  );
  const codes = new EmailCodes(new KnexEmailCodeRepository(db), { ttlSeconds: config.emailCodeTtl, maxAttempts: config.emailCodeMaxAttempts }, clock);
  // Secrets derived from the cookie key, so each purpose has its own and none is stored twice.
  const derive = (purpose: string) => createHmac('sha256', keys.cookieKeys[0]!).update(purpose).digest();
  const signIn = new SignIn({ accounts, passkeys, ceremonies, acr: config.acr, decoySecret: derive('decoy-credentials') });
  const messages = createMessages(config.rpName, config.issuer);
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
      clients: deps.clients,
      render,
    }),
  );
  provider.proxy = config.trustProxy;
  provider.on('server_error', (_ctx, error) => logger.error({ err: error }, 'oidc-provider server_error'));

  const https = new URL(config.issuer).protocol === 'https:';
  const csrf = csrfProtection({ secret: derive('csrf').toString('base64url'), origin: new URL(config.issuer).origin, secure: https });

  const app = new Koa();
  // The parent app signs cookies with the same keys as oidc-provider, or interaction cookies break.
  app.keys = keys.cookieKeys;
  app.proxy = config.trustProxy;
  app.use(securityHeaders({ https }));
  app.use(errorHandler(logger, render));
  const interactions = interactionRouter({ provider, signIn, signup, recovery, accounts, acr: config.acr, render, clock, csrf });
  const assets = assetsRouter();
  app.use(assets.routes());
  app.use(interactions.routes());
  app.use(interactions.allowedMethods());
  app.use(mount(provider));
  return { app, provider };
}
