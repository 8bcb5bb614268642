/**
 * views/assets/common.js: which sentence each WebAuthn failure gets. The script runs in a bare
 * VM context with the page's JSON block of messages, as a browser would run it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { scriptMessages } from '../../src/i18n/index.ts';

type Explain = (error: unknown, ceremony: 'create' | 'get' | 'confirm', timing?: { started?: number; timeoutMs?: number }) => string;

function loadCommon(locale: 'en' | 'de'): { explain: Explain; ServerError: new (problem: { title?: string; code?: string }) => Error } {
  const block = { textContent: JSON.stringify(scriptMessages(locale)) };
  const window: Record<string, unknown> = {};
  const document = { querySelector: () => null, getElementById: (id: string) => (id === 'latchkey-messages' ? block : null) };
  runInNewContext(readFileSync('views/assets/common.js', 'utf8'), { window, document, Date, JSON });
  return window.Latchkey as never;
}

const failure = (name: string, code?: string) => Object.assign(new Error(name), { name, ...(code ? { code } : {}) });

describe('common.js explains WebAuthn failures', () => {
  const en = scriptMessages('en');
  const { explain, ServerError } = loadCommon('en');

  it('tells cancel (or no passkey) apart from a timeout, per ceremony', () => {
    assert.equal(explain(failure('NotAllowedError'), 'get'), en.notAllowedGet);
    assert.equal(explain(failure('NotAllowedError'), 'confirm'), en.notAllowedConfirm);
    assert.equal(explain(failure('NotAllowedError'), 'create'), en.notAllowedCreate);
    assert.equal(explain(failure('NotAllowedError'), 'create', { started: Date.now() - 300_000, timeoutMs: 300_000 }), en.timeout);
    assert.equal(explain(failure('NotAllowedError'), 'get', { started: Date.now() - 1_000, timeoutMs: 300_000 }), en.notAllowedGet);
  });

  it('maps the other DOMExceptions (and SimpleWebAuthn codes) to a sentence and a next step', () => {
    assert.equal(explain(failure('InvalidStateError', 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED'), 'create'), en.alreadyRegistered);
    assert.equal(explain(failure('AbortError'), 'get'), en.aborted);
    assert.equal(explain(failure('SecurityError', 'ERROR_INVALID_RP_ID'), 'get'), en.security);
    assert.equal(explain(failure('NotSupportedError'), 'create'), en.notSupported);
    assert.equal(explain(failure('ConstraintError'), 'create'), en.notSupported);
    assert.equal(explain(failure('UnknownError'), 'get'), en.generic);
  });

  it('shows the server’s own sentence for a refused request', () => {
    assert.equal(explain(new ServerError({ title: 'That code has expired.', code: 'email_code_expired' }), 'get'), 'That code has expired.');
    assert.equal(explain(new ServerError({}), 'get'), en.serverGeneric);
  });

  it('speaks the page’s language', () => {
    assert.equal(loadCommon('de').explain(failure('AbortError'), 'get'), scriptMessages('de').aborted);
  });
});
