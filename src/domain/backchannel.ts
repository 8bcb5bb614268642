import { createHash, randomBytes } from 'node:crypto';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { Account, AccountRepository } from './accounts.ts';
import type { AuthContext } from './auth-context.ts';
import { normalizeEmail } from './email.ts';
import { DomainError } from './errors.ts';
import { noEvents, type Events } from './events.ts';
import type { Mailer, MailMessage } from './mailer.ts';
import type { SignIn } from './signin.ts';

/** A person's pending decision on an application's backchannel (CIBA) request. */
export interface BackchannelApproval {
  readonly id: string;
  /** oidc-provider's BackchannelAuthenticationRequest id (auth_req_id). */
  readonly requestId: string;
  readonly accountId: string;
  readonly clientId: string;
  readonly bindingMessage: string | null;
  readonly details: readonly Record<string, unknown>[] | null;
  readonly scope: string | null;
  readonly status: 'pending' | 'approved' | 'denied';
  readonly expiresAt: number;
  readonly createdAt: number;
}

export interface BackchannelStore {
  create(approval: BackchannelApproval, tokenHash: string): Promise<void>;
  findByTokenHash(tokenHash: string): Promise<BackchannelApproval | undefined>;
  /** pending (unexpired) → approved/denied; true when this call decided it. */
  decide(id: string, decision: 'approved' | 'denied', now: number): Promise<boolean>;
}

/** Finds the person an application names in login_hint: email, external id or subject. */
export interface LoginHintDirectory {
  findById(id: string): Promise<Account | undefined>;
  findByEmail(email: string): Promise<Account | undefined>;
  findByExternalId(externalId: string): Promise<Account | undefined>;
}

export interface BackchannelMessages {
  /** `locale`: the request's ui_locales (unsupported or undefined: the default language). */
  approvalRequest(to: string, clientName: string, bindingMessage: string | null, url: string, locale?: string): MailMessage;
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
/** Printable text without control characters: shown to the person, so kept short and plain. */
const BINDING_MESSAGE = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]{1,100}$/u;

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Backchannel approval: an application asks Latchkey to have a person approve an action
 * ("Transfer 500 EUR to ACME"). The person gets a link (mail, and an event a webhook can turn
 * into a push), sees the application, the binding message and the details, and approves with
 * a user-verified passkey ceremony bound to this request, or denies.
 */
export class Backchannel {
  constructor(
    private readonly deps: {
      store: BackchannelStore;
      directory: LoginHintDirectory;
      accounts: AccountRepository;
      signIn: SignIn;
      mailer: Mailer;
      messages: BackchannelMessages;
      approvalUrl: (token: string) => string;
      clock: () => number;
      newId: () => string;
      events?: Events;
    },
  ) {}

  private get events(): Events {
    return this.deps.events ?? noEvents;
  }

  /** The account a login_hint names (`email`, external id, or subject), if it is active. */
  async resolveLoginHint(hint: unknown): Promise<string | undefined> {
    if (typeof hint !== 'string' || hint.length === 0 || hint.length > 320) return undefined;
    let account: Account | undefined;
    if (hint.includes('@')) {
      try {
        account = await this.deps.directory.findByEmail(normalizeEmail(hint));
      } catch {
        account = undefined;
      }
    }
    account ??= (await this.deps.directory.findByExternalId(hint)) ?? (await this.deps.directory.findById(hint));
    return account?.status === 'active' ? account.id : undefined;
  }

  /** Whether a binding message is fit to show (printable, 1–100 characters). */
  static validBindingMessage(message: unknown): boolean {
    return message === undefined || (typeof message === 'string' && BINDING_MESSAGE.test(message));
  }

  /**
   * Records the request and reaches the person: a mailed link (in `locale`, the request's
   * ui_locales) and a `backchannel.requested` event.
   */
  async requestApproval(request: {
    requestId: string;
    accountId: string;
    clientId: string;
    clientName: string;
    bindingMessage: string | null;
    details: Record<string, unknown>[] | null;
    scope: string | null;
    expiresAt: number;
  }, locale?: string): Promise<void> {
    const account = await this.deps.accounts.findById(request.accountId);
    if (!account || account.status !== 'active') throw new DomainError('account_disabled', 'This account is disabled.');
    const token = randomBytes(32).toString('base64url');
    const approval: BackchannelApproval = { id: this.deps.newId(), ...request, status: 'pending', createdAt: this.deps.clock() };
    await this.deps.store.create(approval, hashToken(token));
    const url = this.deps.approvalUrl(token);
    await this.events.record({
      type: 'backchannel.requested',
      accountId: account.id,
      actor: `client:${request.clientId}`,
      // The approval URL goes to subscribed webhooks so an application can push it to the person.
      data: { approval_id: approval.id, binding_message: request.bindingMessage, authorization_details: request.details, approval_url: url, expires_at: new Date(request.expiresAt).toISOString() },
    });
    await this.deps.mailer.send(this.deps.messages.approvalRequest(account.email, request.clientName, request.bindingMessage, url, locale));
  }

  /** The approval behind a link, if it can still be decided. */
  async pending(token: string): Promise<{ approval: BackchannelApproval; account: Account }> {
    const approval = TOKEN.test(token) ? await this.deps.store.findByTokenHash(hashToken(token)) : undefined;
    if (!approval) throw new DomainError('approval_not_found', 'This link is not valid.');
    if (approval.status !== 'pending') throw new DomainError('approval_decided', 'This request was already answered.');
    if (this.deps.clock() >= approval.expiresAt) throw new DomainError('approval_expired', 'This request has expired. Start again from the application.');
    const account = await this.deps.accounts.findById(approval.accountId);
    if (!account || account.status !== 'active') throw new DomainError('account_disabled', 'This account is disabled. Contact the application’s support.');
    return { approval, account };
  }

  /** Assertion options for approving: the person's own passkeys, a challenge bound to this request. */
  async approvalOptions(token: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const { approval } = await this.pending(token);
    return this.deps.signIn.stepUpOptions(challengeScope(approval), approval.accountId);
  }

  /** Verifies the person's passkey for this very request and decides it approved, once. */
  async approve(token: string, response: unknown): Promise<{ approval: BackchannelApproval; context: AuthContext }> {
    const { approval } = await this.pending(token);
    const { context } = await this.deps.signIn.verify(challengeScope(approval), response, undefined, approval.accountId);
    if (!(await this.deps.store.decide(approval.id, 'approved', this.deps.clock()))) {
      throw new DomainError('approval_decided', 'This request was already answered.');
    }
    await this.events.record({ type: 'backchannel.approved', accountId: approval.accountId, actor: 'user', data: { approval_id: approval.id, client_id: approval.clientId, acr: context.acr } });
    return { approval, context };
  }

  async deny(token: string): Promise<BackchannelApproval> {
    const { approval } = await this.pending(token);
    if (!(await this.deps.store.decide(approval.id, 'denied', this.deps.clock()))) {
      throw new DomainError('approval_decided', 'This request was already answered.');
    }
    await this.events.record({ type: 'backchannel.denied', accountId: approval.accountId, actor: 'user', data: { approval_id: approval.id, client_id: approval.clientId } });
    return approval;
  }
}

/** The challenge of an approval is bound to it: an assertion for one request cannot approve another. */
function challengeScope(approval: BackchannelApproval): string {
  return `ciba:${approval.id}`;
}
