// Sign-up and recovery, last step: create a passkey for the confirmed email address.
(() => {
  const { startRegistration, browserSupportsWebAuthn } = window.SimpleWebAuthnBrowser;
  const { postJson, showStatus, clearStatus, explain } = window.Latchkey;
  const button = document.getElementById('create-passkey');
  const base = button.dataset.endpoint;

  if (!browserSupportsWebAuthn()) {
    button.disabled = true;
    showStatus('This browser does not support passkeys. Update it, or use another browser or device.');
    return;
  }

  button.addEventListener('click', async () => {
    // Disabling the focused button drops the focus; it goes back after a failure (keyboard users).
    const hadFocus = document.activeElement === button;
    button.disabled = true;
    clearStatus();
    try {
      const optionsJSON = await postJson(`${base}/options`);
      const credential = await startRegistration({ optionsJSON });
      showStatus('Passkey created. Finishing…', 'info');
      const { redirectTo } = await postJson(`${base}/verify`, credential);
      window.location.assign(redirectTo);
    } catch (error) {
      showStatus(explain(error, 'create'));
      button.disabled = false;
      if (hadFocus) button.focus();
    }
  });
})();
