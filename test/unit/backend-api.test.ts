import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backchannel } from '../../src/domain/backchannel.ts';
import { statusOf, type EnrollmentLink } from '../../src/domain/enrollment.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { decodeCursor, encodeCursor } from '../../src/domain/management/users.ts';
import { deliveryBody, retryDelay } from '../../src/domain/webhooks.ts';

describe('webhook retries', () => {
  it('double from the base delay and stop growing at six hours', () => {
    assert.deepEqual([1, 2, 3, 4].map((n) => retryDelay(n, 10_000)), [10_000, 20_000, 40_000, 80_000]);
    assert.equal(retryDelay(40, 10_000), 6 * 3600 * 1000);
    assert.equal(retryDelay(1_000, 10_000), 6 * 3600 * 1000, 'no overflow for absurd attempt counts');
  });

  it('deliver the Standard Webhooks body shape', () => {
    const body = JSON.parse(deliveryBody({ id: 'evt_1', type: 'account.created', accountId: 'u1', actor: 'user', data: { via: 'signup' }, createdAt: 0 }));
    assert.deepEqual(body, { type: 'account.created', timestamp: '1970-01-01T00:00:00.000Z', data: { event_id: 'evt_1', user_id: 'u1', actor: 'user', via: 'signup' } });
  });
});

describe('user list cursors', () => {
  it('round-trip and refuse anything else with invalid_cursor', () => {
    assert.deepEqual(decodeCursor(encodeCursor({ createdAt: 1_763_000_000_000, id: 'abc-123' })), { createdAt: 1_763_000_000_000, id: 'abc-123' });
    for (const bad of ['', 'garbage', Buffer.from('x:y').toString('base64url'), Buffer.from('1:').toString('base64url'), 42, 'a'.repeat(500)]) {
      assert.throws(() => decodeCursor(bad), (e: unknown) => e instanceof DomainError && e.code === 'invalid_cursor');
    }
  });
});

describe('enrollment link status', () => {
  const link = (status: EnrollmentLink['status'], expiresAt: number) => ({ status, expiresAt }) as EnrollmentLink;
  it('is expired once a pending link passes its expiry, and final states never change', () => {
    assert.equal(statusOf(link('created', 1000), 999), 'created');
    assert.equal(statusOf(link('opened', 1000), 1000), 'expired');
    assert.equal(statusOf(link('completed', 1000), 5000), 'completed');
    assert.equal(statusOf(link('revoked', 1000), 5000), 'revoked');
  });
});

describe('CIBA binding messages', () => {
  it('accept short printable text with spaces and refuse control characters and long text', () => {
    assert.ok(Backchannel.validBindingMessage('Transfer 500 EUR to ACME'));
    assert.ok(Backchannel.validBindingMessage('Überweisung 500 € an ACME — #42'));
    assert.ok(Backchannel.validBindingMessage(undefined));
    for (const bad of ['', 'line\nbreak', 'tab\there', 'x'.repeat(101), 'rtl\u202eoverride', 42]) assert.ok(!Backchannel.validBindingMessage(bad), JSON.stringify(bad));
  });
});
