// Sign-up, recovery and enrollment links, last step: create a passkey for the confirmed account.
(() => {
  const { startRegistration } = window.SimpleWebAuthnBrowser;
  const { postJson, showStatus, clearStatus, explain, refuseWithoutWebAuthn, text } = window.Latchkey;
  const button = document.getElementById('create-passkey');
  const base = button.dataset.endpoint;

  if (refuseWithoutWebAuthn(button)) return;
  button.disabled = false; // rendered disabled until the handler below is attached (same task)

  button.addEventListener('click', async () => {
    // Disabling the focused button drops the focus; it goes back after a failure (keyboard users).
    const hadFocus = document.activeElement === button;
    button.disabled = true;
    clearStatus();
    const timing = {};
    try {
      const optionsJSON = await postJson(`${base}/options`);
      Object.assign(timing, { started: Date.now(), timeoutMs: optionsJSON.timeout });
      const credential = await startRegistration({ optionsJSON });
      showStatus(text('creatingDone'), 'info');
      const { redirectTo } = await postJson(`${base}/verify`, credential);
      window.location.assign(redirectTo);
    } catch (error) {
      showStatus(explain(error, 'create', timing));
      button.disabled = false;
      if (hadFocus) button.focus();
    }
  });
})();
