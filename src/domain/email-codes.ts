import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Clock } from './clock.ts';
import { DomainError } from './errors.ts';

export type EmailCodePurpose = 'signup' | 'recovery';

export interface EmailCodeRecord {
  readonly id: string;
  readonly purpose: EmailCodePurpose;
  readonly email: string;
  readonly interactionUid: string;
  readonly codeHash: string;
  readonly attempts: number;
  readonly expiresAt: number;
  readonly verifiedAt: number | null;
}

/** Storage the email-code flow needs; implemented in src/storage. */
export interface EmailCodeRepository {
  /** Stores a new code and removes any earlier one of the same interaction and purpose. */
  replace(record: EmailCodeRecord, createdAt: number): Promise<void>;
  findLatest(interactionUid: string, purpose: EmailCodePurpose): Promise<EmailCodeRecord | undefined>;
  /** Counts one guess atomically; false when the attempts were already used up. */
  countAttempt(id: string, maxAttempts: number): Promise<boolean>;
  markVerified(id: string, at: number): Promise<void>;
}

export interface EmailCodeSettings {
  readonly ttlSeconds: number;
  readonly maxAttempts: number;
}

function hashCode(id: string, code: string): string {
  return createHash('sha256').update(`${id}:${code}`).digest('base64url');
}

/** Six decimal digits, uniformly drawn. */
export function generateCode(): string {
  return randomInt(0, 1_000_000).toString().padStart(6, '0');
}

/** One-time codes proving control of an email address, bound to one interaction. */
export class EmailCodes {
  constructor(
    private readonly repo: EmailCodeRepository,
    private readonly settings: EmailCodeSettings,
    private readonly clock: Clock,
  ) {}

  /** Creates a code for this interaction (replacing an earlier one) and returns it for mailing. */
  async issue(purpose: EmailCodePurpose, email: string, interactionUid: string): Promise<{ code: string; expiresAt: number }> {
    const now = this.clock();
    const id = randomBytes(16).toString('base64url');
    const code = generateCode();
    const expiresAt = now + this.settings.ttlSeconds * 1000;
    await this.repo.replace(
      { id, purpose, email, interactionUid, codeHash: hashCode(id, code), attempts: 0, expiresAt, verifiedAt: null },
      now,
    );
    return { code, expiresAt };
  }

  /** Checks a guess; on success returns the email it proves. Each guess counts, right or wrong. */
  async verify(purpose: EmailCodePurpose, interactionUid: string, guess: unknown): Promise<string> {
    const record = await this.repo.findLatest(interactionUid, purpose);
    if (!record || record.verifiedAt !== null) {
      throw new DomainError('email_code_invalid', 'That code is not valid. Ask for a new one.');
    }
    if (record.expiresAt <= this.clock()) {
      throw new DomainError('email_code_expired', 'That code has expired. Ask for a new one.');
    }
    // Count the attempt before comparing, atomically, so parallel guesses cannot exceed the limit.
    if (!(await this.repo.countAttempt(record.id, this.settings.maxAttempts))) {
      throw new DomainError('email_code_attempts_exceeded', 'Too many wrong codes. Ask for a new one.');
    }
    const normalized = typeof guess === 'string' ? guess.replace(/[\s-]/g, '') : '';
    const expected = Buffer.from(record.codeHash);
    const actual = Buffer.from(hashCode(record.id, normalized));
    // Compare digests in constant time, so timing reveals nothing about the code.
    if (!/^\d{6}$/.test(normalized) || !timingSafeEqual(expected, actual)) {
      throw new DomainError('email_code_invalid', 'That code is not right. Check the email and try again.');
    }
    await this.repo.markVerified(record.id, this.clock());
    return record.email;
  }

  /**
   * The proof this interaction holds for an email address (verified and unexpired). Whoever
   * acts on it uses it up in the same transaction (see SignupStore.complete).
   */
  async verifiedProof(purpose: EmailCodePurpose, interactionUid: string): Promise<EmailCodeRecord | undefined> {
    const record = await this.repo.findLatest(interactionUid, purpose);
    if (!record || record.verifiedAt === null || record.expiresAt <= this.clock()) return undefined;
    return record;
  }
}
