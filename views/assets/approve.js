// Backchannel approval: "Approve" runs a passkey ceremony bound to this request.
window.Latchkey.passkeyButton(document.getElementById('approve'), {
  start: window.SimpleWebAuthnBrowser.startAuthentication,
  explainAs: 'confirm',
  doneKey: 'approving',
  unsupportedKey: 'unsupportedApprove',
});
