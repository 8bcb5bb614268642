import { startLatchkey } from '../helpers/app.ts';
import { authorizationRequest, registerRelyingParty } from '../helpers/rp.ts';
import { addVirtualAuthenticator, copyCredentials, disablePasskeyAutofill, launchBrowser, newContext, signUp, startCallbackServer, waitForApplication } from './helpers.ts';

const server = await startLatchkey();
const app = await startCallbackServer();
const rp = await registerRelyingParty(server, { redirect_uris: [app.redirectUri], post_logout_redirect_uris: [app.postLogoutRedirectUri] });
const browser = await launchBrowser();
try {
  const ctxA = await newContext(browser);
  await disablePasskeyAutofill(ctxA);
  const pageA = await ctxA.newPage();
  const authA = await addVirtualAuthenticator(pageA);
  const req = await authorizationRequest(rp, { redirect_uri: app.redirectUri });
  await pageA.goto(req.url.href);
  console.log('A at', pageA.url());
  const cb = await signUp(pageA, server, app, 'x@example.com');
  console.log('callback', cb.href);
  const creds = await authA.credentials();
  console.log('creds', creds.map((c) => ({ ...c, privateKey: '…' })));

  const ctxB = await newContext(browser);
  const calls: string[] = [];
  await ctxB.exposeBinding('__recordGet', (_s, m: string) => { calls.push(m); });
  await ctxB.addInitScript(() => {
    const c = navigator.credentials;
    const original = c.get.bind(c);
    c.get = (options?: CredentialRequestOptions) => { (window as any).__recordGet(String(options?.mediation ?? 'default')); return original(options); };
  });
  const pageB = await ctxB.newPage();
  pageB.on('console', (m) => console.log('B console', m.text()));
  const authB = await addVirtualAuthenticator(pageB);
  await copyCredentials(authA, authB);
  const req2 = await authorizationRequest(rp, { redirect_uri: app.redirectUri });
  await pageB.goto(req2.url.href);
  console.log('B at', pageB.url());
  await new Promise((r) => setTimeout(r, 2000));
  console.log('B after 2s', pageB.url(), calls);
  try {
    await pageB.getByLabel('Email').click();
    console.log('clicked');
  } catch (e) { console.log('click failed', (e as Error).message.split('\n')[0]); }
  try { await waitForApplication(pageB, app); console.log('B landed', pageB.url()); } catch (e) { console.log('no landing', pageB.url(), await pageB.content()); }
  console.log('calls', calls, 'credsB', (await authB.credentials()).map((c) => c.signCount));
} finally {
  await browser.close();
  await app.close();
  await server.close();
}
