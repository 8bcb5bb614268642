// Account page: "Add a passkey", the WebAuthn Signal API after changes, and times shown in the
// browser's own time zone.
(() => {
  const { startRegistration } = window.SimpleWebAuthnBrowser;
  const { passkeyButton, text } = window.Latchkey;

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
  passkeyButton(button, {
    start: startRegistration,
    endpoint: '/account/passkeys',
    explainAs: 'create',
    doneKey: 'savingDone',
    failure(error) {
      // Adding a passkey needs a recent passkey sign-in: confirm it's you, then come back.
      const next = { reauthentication_required: '/account/reauth', account_sign_in_required: '/account' }[error?.code];
      if (next) {
        window.location.assign(next);
        return true;
      }
      if (error?.code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED' || error?.name === 'InvalidStateError') return text('alreadyRegisteredAccount');
      return undefined;
    },
  });
})();
