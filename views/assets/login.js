// Sign-in page: "Sign in with a passkey" (discoverable credential), passkey autofill on the
// email field (conditional mediation), and a username-first fallback.
(() => {
  const { startAuthentication, browserSupportsWebAuthnAutofill } = window.SimpleWebAuthnBrowser;
  const { postJson, showStatus, clearStatus, explain, refuseWithoutWebAuthn, text } = window.Latchkey;
  const button = document.getElementById('passkey-signin');
  const form = document.getElementById('username-form');
  const base = `/interaction/${encodeURIComponent(button.dataset.uid)}/passkey`;
  let busy = false;

  async function signIn(body, useBrowserAutofill, timing = {}) {
    const optionsJSON = await postJson(`${base}/options`, body);
    Object.assign(timing, { started: Date.now(), timeoutMs: optionsJSON.timeout });
    const credential = await startAuthentication({ optionsJSON, useBrowserAutofill });
    showStatus(text('signingIn'), 'info');
    const { redirectTo } = await postJson(`${base}/verify`, credential);
    window.location.assign(redirectTo);
  }

  async function run(body) {
    if (busy) return;
    busy = true;
    // Disabling the focused button drops the focus; it goes back after a failure (keyboard users).
    const hadFocus = document.activeElement === button;
    button.disabled = true;
    clearStatus();
    const timing = {};
    try {
      await signIn(body, false, timing);
    } catch (error) {
      // The step-up page (no email form) confirms someone already signed in: no "create an account".
      showStatus(explain(error, form ? 'get' : 'confirm', timing));
      button.disabled = false;
      if (hadFocus) button.focus();
      if (form) startAutofill();
    } finally {
      busy = false;
    }
  }

  async function startAutofill() {
    if (!(await browserSupportsWebAuthnAutofill())) return;
    try {
      await signIn({}, true);
    } catch (error) {
      // Starting another ceremony aborts this one; only report real failures.
      if (error?.name !== 'AbortError' && error?.code !== 'ERROR_CEREMONY_ABORTED') showStatus(explain(error, 'get'));
    }
  }

  if (refuseWithoutWebAuthn(button)) return;
  button.addEventListener('click', () => run({}));
  button.disabled = false; // rendered disabled until this handler is attached
  // The step-up page has no email field and no autofill: it confirms the signed-in person.
  if (!form) return;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const email = form.elements.email.value.trim();
    if (!email) {
      showStatus(text('enterEmail'));
      // Tie the message to the field, so a screen reader reads it there too.
      form.elements.email.setAttribute('aria-invalid', 'true');
      form.elements.email.setAttribute('aria-describedby', 'status');
      form.elements.email.focus();
      return;
    }
    form.elements.email.removeAttribute('aria-invalid');
    form.elements.email.removeAttribute('aria-describedby');
    run({ email });
  });
  startAutofill();
})();
