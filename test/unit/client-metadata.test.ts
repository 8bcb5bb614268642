import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientMetadata } from '../../src/config/client-metadata.ts';

describe('client metadata', () => {
  it('builds each client object’s metadata once, and a new object (a changed registration) afresh', () => {
    let built = 0;
    const client = (policy: string) => ({ metadata: () => (built++, { client_id: 'app', passkey_policy: policy }) });
    const first = client('any');
    assert.equal(clientMetadata(first).passkey_policy, 'any');
    assert.equal(clientMetadata(first), clientMetadata(first));
    assert.equal(built, 1);
    assert.equal(clientMetadata(client('device-bound')).passkey_policy, 'device-bound');
    assert.equal(built, 2);
    assert.throws(() => ((clientMetadata(first) as Record<string, unknown>).passkey_policy = 'x'), TypeError, 'shared, so frozen');
  });

  it('has nothing for no client', () => {
    assert.deepEqual(clientMetadata(undefined), {});
    assert.deepEqual(clientMetadata({}), {});
  });
});
