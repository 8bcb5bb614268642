import { startLatchkey } from '../helpers/app.ts';
import { authorizationRequest, registerRelyingParty } from '../helpers/rp.ts';
import { addVirtualAuthenticator, disablePasskeyAutofill, launchBrowser, newContext, startCallbackServer } from './helpers.ts';

const server = await startLatchkey({ env: { LOG_LEVEL: 'debug' } });
const app = await startCallbackServer();
const rp = await registerRelyingParty(server, { redirect_uris: [app.redirectUri], post_logout_redirect_uris: [app.postLogoutRedirectUri] });
const browser = await launchBrowser();
try {
  const ctxA = await newContext(browser);
  await disablePasskeyAutofill(ctxA);
  const pageA = await ctxA.newPage();
  pageA.on('request', (r) => { if (r.method() === 'POST') console.log('POST', r.url(), JSON.stringify(r.headers())); });
  pageA.on('requestfailed', (r) => console.log('failed', r.url(), r.failure()?.errorText));
  await addVirtualAuthenticator(pageA);
  const req = await authorizationRequest(rp, { redirect_uri: app.redirectUri });
  await pageA.goto(req.url.href);
  await pageA.getByRole('link', { name: 'Create account' }).click();
  await pageA.getByLabel('Email').fill('x@example.com');
  await pageA.getByRole('button', { name: 'Send code' }).click();
  await new Promise((r) => setTimeout(r, 2000));
  console.log(pageA.url());
  console.log(await pageA.content());
} finally {
  await browser.close();
  await app.close();
  await server.close();
}
