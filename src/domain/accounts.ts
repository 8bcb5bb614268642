/** A person known to Latchkey. */
export interface Account {
  readonly id: string;
  readonly email: string;
  readonly emailVerified: boolean;
  readonly name: string | null;
  /** WebAuthn user.id (base64url): random, unrelated to the email. */
  readonly userHandle: string;
  readonly status: 'active' | 'disabled';
  readonly createdAt: number;
}

export interface AccountRepository {
  findById(id: string): Promise<Account | undefined>;
  findByEmail(email: string): Promise<Account | undefined>;
}

/** The OpenID Connect claims of an account, by claim name. */
export function accountClaims(account: Account): Record<string, unknown> {
  return {
    sub: account.id,
    email: account.email,
    email_verified: account.emailVerified,
    ...(account.name ? { name: account.name } : {}),
  };
}
