/** The acr/amr table: what each way of signing in puts into the session and the ID token. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AcrNames } from '../../src/config/env.ts';
import { authContextFromEmailCode, authContextFromPasskey, authContextFromPossession } from '../../src/domain/auth-context.ts';

const DEFAULT_ACR: AcrNames = { otp: 'urn:latchkey:acr:otp', pop: 'urn:latchkey:acr:pop', phr: 'phr', phrh: 'phrh' };
const CUSTOM_ACR: AcrNames = { otp: 'urn:example:loa:1', pop: 'urn:example:loa:1.5', phr: 'urn:example:loa:2', phrh: 'urn:example:loa:3' };

for (const [label, acr] of [
  ['default acr names', DEFAULT_ACR],
  ['custom acr names', CUSTOM_ACR],
] as const) {
  describe(`auth context (${label})`, () => {
    it('a user-verified device-bound passkey is phrh with a hardware key', () => {
      assert.deepEqual(authContextFromPasskey({ userVerified: true, backupEligible: false }, acr), {
        acr: acr.phrh,
        amr: ['pop', 'hwk', 'user', 'mfa'],
      });
    });

    it('a user-verified synced passkey is phr with a software key', () => {
      assert.deepEqual(authContextFromPasskey({ userVerified: true, backupEligible: true }, acr), {
        acr: acr.phr,
        amr: ['pop', 'swk', 'user', 'mfa'],
      });
    });

    it('a passkey assertion without user verification earns no passkey context', () => {
      assert.throws(() => authContextFromPasskey({ userVerified: false, backupEligible: false }, acr), /user verification/);
      assert.throws(() => authContextFromPasskey({ userVerified: false, backupEligible: true }, acr), /user verification/);
    });

    it('possession alone (where policy allows it) is the pop level, single factor', () => {
      assert.deepEqual(authContextFromPossession({ backupEligible: false }, acr), { acr: acr.pop, amr: ['pop', 'hwk'] });
      assert.deepEqual(authContextFromPossession({ backupEligible: true }, acr), { acr: acr.pop, amr: ['pop', 'swk'] });
      for (const backupEligible of [false, true]) {
        const context = authContextFromPossession({ backupEligible }, acr);
        assert.ok(!context.amr.includes('mfa') && !context.amr.includes('user'));
        assert.notEqual(context.acr, acr.phr);
        assert.notEqual(context.acr, acr.phrh);
      }
    });

    it('an emailed code alone is the otp level', () => {
      assert.deepEqual(authContextFromEmailCode(acr), { acr: acr.otp, amr: ['otp'] });
    });
  });
}

describe('auth context names', () => {
  it('uses the configured strings, not the defaults', () => {
    assert.equal(authContextFromPasskey({ userVerified: true, backupEligible: false }, CUSTOM_ACR).acr, 'urn:example:loa:3');
    assert.equal(authContextFromPasskey({ userVerified: true, backupEligible: true }, CUSTOM_ACR).acr, 'urn:example:loa:2');
    assert.equal(authContextFromPossession({ backupEligible: true }, CUSTOM_ACR).acr, 'urn:example:loa:1.5');
    assert.equal(authContextFromEmailCode(CUSTOM_ACR).acr, 'urn:example:loa:1');
  });
});
