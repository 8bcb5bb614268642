// Shared by the hosted pages: JSON calls with the CSRF token, status messages, and
// plain-language explanations of WebAuthn failures.
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? '';

  class ServerError extends Error {
    constructor(problem) {
      super(problem.title || 'Something went wrong.');
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

  /** A sentence and a next step for each way a ceremony can fail. */
  function explain(error, ceremony) {
    if (error instanceof ServerError) return error.message;
    const name = error?.name;
    const code = error?.code;
    if (code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED' || name === 'InvalidStateError') {
      return 'This device already has a passkey for this account. Sign in with it instead.';
    }
    if (code === 'ERROR_CEREMONY_ABORTED' || name === 'AbortError') {
      return 'The passkey request was cancelled. Try again when you are ready.';
    }
    if (name === 'NotAllowedError') {
      if (ceremony === 'create') return 'The passkey was not created: the request was cancelled or timed out. Try again, or use another device.';
      if (ceremony === 'confirm') {
        return 'No passkey was used: the request was cancelled, timed out, or this device has no passkey for your account. Try again, or use a passkey on your phone (choose "use another device").';
      }
      return 'No passkey was used: the request was cancelled, timed out, or this device has no passkey for this site. Try again, use a passkey on your phone (choose "use another device"), or create an account.';
    }
    if (name === 'SecurityError') return 'Your browser refused the passkey request for this site address. Check the address and try again.';
    if (name === 'NotSupportedError') return 'This device does not support the passkey type we need. Try another device or browser.';
    return 'Something went wrong with the passkey. Please try again.';
  }

  window.Latchkey = { postJson, showStatus, clearStatus, explain, ServerError };
})();
