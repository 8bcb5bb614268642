/**
 * EmailCodes over an in-memory repository and a hand-moved clock: the right code proves the
 * email once, wrong guesses are counted and capped, and codes expire and are replaced.
 */
import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  EmailCodes,
  generateCode,
  type EmailCodePurpose,
  type EmailCodeRecord,
  type EmailCodeRepository,
} from '../../src/domain/email-codes.ts';
import { DomainError, type ErrorCode } from '../../src/domain/errors.ts';

/** Keeps codes in memory with the same contract as KnexEmailCodeRepository. */
class MemoryEmailCodeRepository implements EmailCodeRepository {
  readonly records = new Map<string, EmailCodeRecord & { createdAt: number }>();

  async replace(record: EmailCodeRecord, createdAt: number): Promise<void> {
    for (const [id, r] of this.records) {
      if (r.interactionUid === record.interactionUid && r.purpose === record.purpose) this.records.delete(id);
    }
    this.records.set(record.id, { ...record, createdAt });
  }

  async findLatest(interactionUid: string, purpose: EmailCodePurpose): Promise<EmailCodeRecord | undefined> {
    const matches = [...this.records.values()].filter((r) => r.interactionUid === interactionUid && r.purpose === purpose);
    const latest = matches.sort((a, b) => b.createdAt - a.createdAt)[0];
    return latest && { ...latest };
  }

  async countAttempt(id: string, maxAttempts: number): Promise<boolean> {
    const record = this.records.get(id);
    if (!record || record.attempts >= maxAttempts) return false;
    this.records.set(id, { ...record, attempts: record.attempts + 1 });
    return true;
  }

  async markVerified(id: string, at: number): Promise<void> {
    const record = this.records.get(id);
    if (record) this.records.set(id, { ...record, verifiedAt: at });
  }
}

const T0 = 1_790_000_000_000;
const TTL_SECONDS = 600;
const MAX_ATTEMPTS = 3;

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DomainError, `expected a DomainError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

/** Any six-digit code other than this one. */
function otherCode(code: string): string {
  return ((Number(code) + 1) % 1_000_000).toString().padStart(6, '0');
}

describe('EmailCodes', () => {
  let repo: MemoryEmailCodeRepository;
  let now: number;
  let codes: EmailCodes;

  beforeEach(() => {
    repo = new MemoryEmailCodeRepository();
    now = T0;
    codes = new EmailCodes(repo, { ttlSeconds: TTL_SECONDS, maxAttempts: MAX_ATTEMPTS }, () => now);
  });

  it('issues a six-digit code that expires after the TTL and stores only its hash', async () => {
    const { code, expiresAt } = await codes.issue('signup', 'ada@example.com', 'int-1');
    assert.match(code, /^\d{6}$/);
    assert.equal(expiresAt, T0 + TTL_SECONDS * 1000);
    const [record] = [...repo.records.values()];
    assert.equal(record?.email, 'ada@example.com');
    assert.equal(record?.attempts, 0);
    assert.equal(record?.verifiedAt, null);
    assert.equal(record?.expiresAt, expiresAt);
    assert.ok(!record?.codeHash.includes(code), 'the code itself is not stored');
  });

  it('the right code verifies and returns the email', async () => {
    const { code } = await codes.issue('signup', 'ada@example.com', 'int-1');
    now += 1_000;
    assert.equal(await codes.verify('signup', 'int-1', code), 'ada@example.com');
    const [record] = [...repo.records.values()];
    assert.equal(record?.verifiedAt, T0 + 1_000);
    assert.equal(record?.attempts, 1);
  });

  it('accepts the code typed with spaces or a dash', async () => {
    const { code } = await codes.issue('signup', 'ada@example.com', 'int-1');
    assert.equal(await codes.verify('signup', 'int-1', ` ${code.slice(0, 3)}-${code.slice(3)} `), 'ada@example.com');
  });

  it('a wrong code is email_code_invalid and counts as an attempt', async () => {
    const { code } = await codes.issue('signup', 'ada@example.com', 'int-1');
    await rejectsWith(codes.verify('signup', 'int-1', otherCode(code)), 'email_code_invalid');
    assert.equal([...repo.records.values()][0]?.attempts, 1);
    // Still usable afterwards, within the limit.
    assert.equal(await codes.verify('signup', 'int-1', code), 'ada@example.com');
  });

  it('a malformed guess is email_code_invalid and counts as an attempt too', async () => {
    for (const guess of ['12345', '1234567', 'abcdef', '', undefined, 123456, null]) {
      await codes.issue('signup', 'ada@example.com', 'int-1');
      await rejectsWith(codes.verify('signup', 'int-1', guess), 'email_code_invalid');
      assert.equal([...repo.records.values()][0]?.attempts, 1);
    }
  });

  it('after maxAttempts wrong guesses even the right code is refused', async () => {
    const { code } = await codes.issue('signup', 'ada@example.com', 'int-1');
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      await rejectsWith(codes.verify('signup', 'int-1', otherCode(code)), 'email_code_invalid');
    }
    await rejectsWith(codes.verify('signup', 'int-1', code), 'email_code_attempts_exceeded');
    assert.equal(await codes.verifiedProof('signup', 'int-1'), undefined);
  });

  it('an expired code is email_code_expired, even when right', async () => {
    const { code } = await codes.issue('signup', 'ada@example.com', 'int-1');
    now = T0 + TTL_SECONDS * 1000; // exactly at expiry
    await rejectsWith(codes.verify('signup', 'int-1', code), 'email_code_expired');
    now += 60_000;
    await rejectsWith(codes.verify('signup', 'int-1', code), 'email_code_expired');
  });

  it('a code cannot be verified twice', async () => {
    const { code } = await codes.issue('signup', 'ada@example.com', 'int-1');
    assert.equal(await codes.verify('signup', 'int-1', code), 'ada@example.com');
    await rejectsWith(codes.verify('signup', 'int-1', code), 'email_code_invalid');
  });

  it('reissuing replaces the old code', async () => {
    const first = await codes.issue('signup', 'ada@example.com', 'int-1');
    let second = await codes.issue('signup', 'ada@example.com', 'int-1');
    // One chance in a million that the new code equals the old one: draw again then.
    while (second.code === first.code) second = await codes.issue('signup', 'ada@example.com', 'int-1');
    assert.equal(repo.records.size, 1);
    await rejectsWith(codes.verify('signup', 'int-1', first.code), 'email_code_invalid');
    assert.equal(await codes.verify('signup', 'int-1', second.code), 'ada@example.com');
  });

  it('reissuing restores the attempts', async () => {
    const first = await codes.issue('signup', 'ada@example.com', 'int-1');
    for (let i = 0; i < MAX_ATTEMPTS; i++) await codes.verify('signup', 'int-1', otherCode(first.code)).catch(() => {});
    const second = await codes.issue('signup', 'ada@example.com', 'int-1');
    assert.equal(await codes.verify('signup', 'int-1', second.code), 'ada@example.com');
  });

  it('a code is bound to its interaction and purpose', async () => {
    const { code } = await codes.issue('signup', 'ada@example.com', 'int-1');
    await rejectsWith(codes.verify('signup', 'int-2', code), 'email_code_invalid');
    await rejectsWith(codes.verify('recovery', 'int-1', code), 'email_code_invalid');
    assert.equal(await codes.verify('signup', 'int-1', code), 'ada@example.com');
  });

  it('verifiedProof is the verified, unexpired code of the interaction', async () => {
    const { code } = await codes.issue('signup', 'ada@example.com', 'int-1');
    assert.equal(await codes.verifiedProof('signup', 'int-1'), undefined);
    await codes.verify('signup', 'int-1', code);
    const proof = await codes.verifiedProof('signup', 'int-1');
    assert.equal(proof?.email, 'ada@example.com');
    assert.equal(await codes.verifiedProof('recovery', 'int-1'), undefined);
    assert.equal(await codes.verifiedProof('signup', 'int-2'), undefined);
    now = T0 + TTL_SECONDS * 1000;
    assert.equal(await codes.verifiedProof('signup', 'int-1'), undefined);
  });

  it('without a code there is nothing to verify', async () => {
    await rejectsWith(codes.verify('signup', 'int-1', '123456'), 'email_code_invalid');
  });
});

describe('generateCode', () => {
  it('always gives six decimal digits, drawn across the whole range', () => {
    const seen = new Set<string>();
    const firstDigits = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const code = generateCode();
      assert.match(code, /^\d{6}$/);
      seen.add(code);
      firstDigits.add(code[0]!);
    }
    // 2,000 uniform draws from a million: collisions are rare and every leading digit appears.
    assert.ok(seen.size > 1_900, `only ${seen.size} distinct codes`);
    assert.equal(firstDigits.size, 10);
  });
});
