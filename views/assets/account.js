// Account page: "Add a passkey", the WebAuthn Signal API after changes, and times shown in the
// browser's own time zone.
(() => {
  const { startRegistration } = window.SimpleWebAuthnBrowser;
  const { postJson, showStatus, clearStatus, explain, refuseWithoutWebAuthn, text } = window.Latchkey;

  // Times arrive in UTC; show them as the person's clock does, in the page's language.
  const format = new Intl.DateTimeFormat(document.documentElement.lang || undefined, { dateStyle: 'medium', timeStyle: 'short' });
  for (const element of document.querySelectorAll('time[datetime]')) {
    const date = new Date(element.getAttribute('datetime'));
    if (!Number.isNaN(date.getTime())) element.textContent = format.format(date);
  }

  // Tell the browser's password manager which passkeys still work here, so it stops offering a
  // removed one (WebAuthn Signal API; where the browser has it). Failures change nothing.
  async function signal() {
    const data = document.getElementById('webauthn-signals')?.dataset;
    if (!data || typeof PublicKeyCredential === 'undefined') return;
    const { rpId, userId } = data;
    if (data.removedCredentialId && typeof PublicKeyCredential.signalUnknownCredential === 'function') {
      await PublicKeyCredential.signalUnknownCredential({ rpId, credentialId: data.removedCredentialId }).catch(() => {});
    }
    if (typeof PublicKeyCredential.signalAllAcceptedCredentials === 'function') {
      let allAcceptedCredentialIds;
      try {
        allAcceptedCredentialIds = JSON.parse(data.acceptedCredentialIds || '[]');
      } catch {
        return;
      }
      await PublicKeyCredential.signalAllAcceptedCredentials({ rpId, userId, allAcceptedCredentialIds }).catch(() => {});
    }
  }
  signal();

  const button = document.getElementById('add-passkey');
  if (!button) return;
  if (refuseWithoutWebAuthn(button)) return;
  button.disabled = false; // rendered disabled until the handler below is attached (same task)

  button.addEventListener('click', async () => {
    // Disabling the focused button drops the focus; it goes back after a failure (keyboard users).
    const hadFocus = document.activeElement === button;
    button.disabled = true;
    clearStatus();
    const timing = {};
    try {
      const optionsJSON = await postJson('/account/passkeys/options');
      Object.assign(timing, { started: Date.now(), timeoutMs: optionsJSON.timeout });
      const credential = await startRegistration({ optionsJSON });
      showStatus(text('savingDone'), 'info');
      const { redirectTo } = await postJson('/account/passkeys/verify', credential);
      window.location.assign(redirectTo);
    } catch (error) {
      // Adding a passkey needs a recent passkey sign-in: confirm it's you, then come back.
      if (error?.code === 'reauthentication_required') {
        window.location.assign('/account/reauth');
        return;
      }
      if (error?.code === 'account_sign_in_required') {
        window.location.assign('/account');
        return;
      }
      if (error?.code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED' || error?.name === 'InvalidStateError') {
        showStatus(text('alreadyRegisteredAccount'));
      } else {
        showStatus(explain(error, 'create', timing));
      }
      button.disabled = false;
      if (hadFocus) button.focus();
    }
  });
})();
