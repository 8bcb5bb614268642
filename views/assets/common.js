// Shared by the hosted pages: the page's sentences (from its JSON data block, in its language),
// JSON calls with the CSRF token, status messages, and plain-language explanations of WebAuthn
// failures.
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? '';

  /** The sentences the server put in the page, in the page's language; never markup. */
  let messages = {};
  try {
    messages = JSON.parse(document.getElementById('latchkey-messages')?.textContent || '{}');
  } catch {
    messages = {};
  }
  const text = (key) => messages[key] ?? key;

  class ServerError extends Error {
    constructor(problem) {
      super(problem.title || text('serverGeneric'));
      this.code = problem.code;
    }
  }

  async function postJson(url, body) {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body ?? {}),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ServerError(data);
    return data;
  }

  function showStatus(message, kind = 'error') {
    const status = document.getElementById('status');
    if (!status) return;
    status.textContent = message;
    status.className = `status ${kind}`;
    status.hidden = false;
  }

  function clearStatus() {
    const status = document.getElementById('status');
    if (status) status.hidden = true;
  }

  /**
   * A sentence and a next step for each way a ceremony can fail. `ceremony` is `create`, `get`
   * (sign-in, where creating an account is an option) or `confirm` (someone already known).
   * Browsers report a timeout as NotAllowedError, like a cancel: a ceremony that ran to its
   * timeout (`started`, `timeoutMs`) is told as a timeout.
   */
  function explain(error, ceremony, timing = {}) {
    if (error instanceof ServerError) return error.message;
    const name = error?.name;
    const code = error?.code;
    if (code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED' || name === 'InvalidStateError') return text('alreadyRegistered');
    if (code === 'ERROR_CEREMONY_ABORTED' || name === 'AbortError') return text('aborted');
    if (name === 'NotAllowedError') {
      const { started, timeoutMs } = timing;
      if (started && timeoutMs && Date.now() - started >= timeoutMs * 0.95) return text('timeout');
      if (ceremony === 'create') return text('notAllowedCreate');
      if (ceremony === 'confirm') return text('notAllowedConfirm');
      return text('notAllowedGet');
    }
    // The site's address and its passkey domain (RP ID) do not match: only the operator can fix that.
    if (name === 'SecurityError' || code === 'ERROR_INVALID_DOMAIN' || code === 'ERROR_INVALID_RP_ID') return text('security');
    if (name === 'NotSupportedError' || name === 'ConstraintError') return text('notSupported');
    return text('generic');
  }

  /** Says why passkeys cannot work here and disables the button, when the browser has no WebAuthn at all. */
  function refuseWithoutWebAuthn(button, key = 'unsupported') {
    if (typeof window.PublicKeyCredential === 'function' && window.SimpleWebAuthnBrowser?.browserSupportsWebAuthn()) return false;
    if (button) button.disabled = true;
    showStatus(text(key));
    return true;
  }

  /**
   * Wires a page's passkey button: options from `${endpoint}/options`, the browser's ceremony
   * (`start`), then `${endpoint}/verify`, and on to where the server sends the person. A failure
   * gets the page's own answer (`failure`: a sentence, or true once it has navigated away) or
   * the plain-language one for `explainAs`, and the button works again.
   */
  function passkeyButton(button, { start, explainAs, doneKey, unsupportedKey, endpoint = button.dataset.endpoint, failure = () => undefined }) {
    if (refuseWithoutWebAuthn(button, unsupportedKey)) return;
    button.disabled = false; // rendered disabled until the handler below is attached (same task)
    button.addEventListener('click', async () => {
      // Disabling the focused button drops the focus; it goes back after a failure (keyboard users).
      const hadFocus = document.activeElement === button;
      button.disabled = true;
      clearStatus();
      const timing = {};
      try {
        const optionsJSON = await postJson(`${endpoint}/options`);
        Object.assign(timing, { started: Date.now(), timeoutMs: optionsJSON.timeout });
        const credential = await start({ optionsJSON });
        showStatus(text(doneKey), 'info');
        const { redirectTo } = await postJson(`${endpoint}/verify`, credential);
        window.location.assign(redirectTo);
      } catch (error) {
        const answer = failure(error);
        if (answer === true) return;
        showStatus(answer ?? explain(error, explainAs, timing));
        button.disabled = false;
        if (hadFocus) button.focus();
      }
    });
  }

  window.Latchkey = { postJson, showStatus, clearStatus, explain, refuseWithoutWebAuthn, passkeyButton, text, ServerError };
})();
