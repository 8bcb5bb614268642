// Backchannel approval: "Approve" runs a passkey ceremony bound to this request.
(() => {
  const { startAuthentication, browserSupportsWebAuthn } = window.SimpleWebAuthnBrowser;
  const { postJson, showStatus, clearStatus, explain } = window.Latchkey;
  const button = document.getElementById('approve');
  const base = button.dataset.endpoint;

  if (!browserSupportsWebAuthn()) {
    button.disabled = true;
    showStatus('This browser does not support passkeys. Open the link on the device that holds your passkey.');
    return;
  }

  button.addEventListener('click', async () => {
    button.disabled = true;
    clearStatus();
    try {
      const optionsJSON = await postJson(`${base}/options`);
      const credential = await startAuthentication({ optionsJSON });
      showStatus('Approving…', 'info');
      const { redirectTo } = await postJson(`${base}/verify`, credential);
      window.location.assign(redirectTo);
    } catch (error) {
      showStatus(explain(error, 'confirm'));
      button.disabled = false;
    }
  });
})();
