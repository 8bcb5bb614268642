/**
 * Passkeys added and removed on the account page are security events: the audit log (read
 * through the management API) shows `passkey.registered` and `passkey.removed`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, apiClient, apiToken } from '../helpers/api.ts';
import { startLatchkey, type TestServer } from '../helpers/app.ts';
import { SoftwareAuthenticator } from '../helpers/authenticator.ts';
import { openInteraction, signInWithPasskey, signUp } from '../helpers/flows.ts';
import { csrfTokenOf, HttpClient } from '../helpers/http.ts';

const auditor = apiClient('auditor', 'users:read events:read');

describe('account page passkey changes in the audit log', () => {
  let server: TestServer;
  before(async () => {
    server = await startLatchkey({ clients: [auditor] });
  });
  after(() => server.close());

  async function landAtAccount(http: HttpClient, location: string): Promise<void> {
    const { url } = await http.follow(location);
    assert.equal(new URL(url).pathname, '/account', `landed on ${url}`);
  }

  async function csrf(http: HttpClient): Promise<string> {
    const response = await http.get('/account');
    assert.equal(response.status, 200);
    return csrfTokenOf(await response.text());
  }

  it('records passkey.registered and passkey.removed, by the person, with the passkey id', async () => {
    const email = 'audited@example.com';
    const first = new SoftwareAuthenticator({ origin: server.issuer });
    const signup = new HttpClient(server.issuer);
    await landAtAccount(signup, await signUp(signup, server, first, await openInteraction(signup, server.url('/account')), email));
    // A passkey sign-in just now: fresh enough to change passkeys.
    const http = new HttpClient(server.issuer);
    const verified = await signInWithPasskey(http, first, await openInteraction(http, server.url('/account')));
    assert.equal(verified.status, 200);
    await landAtAccount(http, ((await verified.json()) as { redirectTo: string }).redirectTo);

    const spare = new SoftwareAuthenticator({ origin: server.issuer });
    const token = await csrf(http);
    const options = await http.request('POST', '/account/passkeys/options', { body: {}, headers: { 'x-csrf-token': token } });
    const added = await http.request('POST', '/account/passkeys/verify', { body: spare.createCredential((await options.json()) as never), headers: { 'x-csrf-token': token } });
    assert.equal(added.status, 200, await added.clone().text());
    const spareId = spare.credentials[0]!.id;
    const removed = await http.request('POST', '/account/passkeys/remove', { form: { csrf: await csrf(http), passkey: spareId } });
    assert.equal(removed.status, 303);
    assert.equal(removed.headers.get('location'), '/account');

    const read = await apiToken(server, auditor, 'users:read events:read');
    const users = (await (await api(server, read, 'GET', `/users?email=${email}`)).json()) as { data: { id: string }[] };
    const userId = users.data[0]!.id;
    const events = (await (await api(server, read, 'GET', `/events?user_id=${userId}`)).json()) as {
      data: { type: string; actor: string | null; data: Record<string, unknown> }[];
    };
    const passkeyEvents = events.data.filter((e) => e.type.startsWith('passkey.'));
    assert.deepEqual(passkeyEvents.map((e) => [e.type, e.data.via]), [
      ['passkey.registered', 'signup'],
      ['passkey.registered', 'account'],
      ['passkey.removed', 'account'],
    ]);
    const [, registered, gone] = passkeyEvents;
    assert.equal(registered!.actor, 'user');
    assert.equal(gone!.actor, 'user');
    assert.equal(registered!.data.passkey_id, spareId);
    assert.equal(gone!.data.passkey_id, spareId);
    // Filtering by type works for the new events too.
    const onlyRemoved = (await (await api(server, read, 'GET', `/events?user_id=${userId}&type=passkey.removed`)).json()) as { data: unknown[] };
    assert.equal(onlyRemoved.data.length, 1);
  });
});
