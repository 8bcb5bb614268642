// Sign-up, recovery and enrollment links, last step: create a passkey for the confirmed account.
window.Latchkey.passkeyButton(document.getElementById('create-passkey'), {
  start: window.SimpleWebAuthnBrowser.startRegistration,
  explainAs: 'create',
  doneKey: 'creatingDone',
});
