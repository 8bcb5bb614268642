// Backchannel approval: "Approve" runs a passkey ceremony bound to this request.
(() => {
  const { startAuthentication } = window.SimpleWebAuthnBrowser;
  const { postJson, showStatus, clearStatus, explain, refuseWithoutWebAuthn, text } = window.Latchkey;
  const button = document.getElementById('approve');
  const base = button.dataset.endpoint;

  if (refuseWithoutWebAuthn(button, 'unsupportedApprove')) return;
  button.disabled = false; // rendered disabled until the handler below is attached (same task)

  button.addEventListener('click', async () => {
    const hadFocus = document.activeElement === button;
    button.disabled = true;
    clearStatus();
    const timing = {};
    try {
      const optionsJSON = await postJson(`${base}/options`);
      Object.assign(timing, { started: Date.now(), timeoutMs: optionsJSON.timeout });
      const credential = await startAuthentication({ optionsJSON });
      showStatus(text('approving'), 'info');
      const { redirectTo } = await postJson(`${base}/verify`, credential);
      window.location.assign(redirectTo);
    } catch (error) {
      showStatus(explain(error, 'confirm', timing));
      button.disabled = false;
      if (hadFocus) button.focus();
    }
  });
})();
