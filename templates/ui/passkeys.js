// Passkeys on the hosted pages: "Sign in with a passkey" (and the browser's autofill, where it
// offers passkeys) on the sign-in page, "Add a passkey" on the account page. Served as
// /ui/passkeys.js when passkeys are on; the only script the pages' Content-Security-Policy
// allows. The pages work without it: its buttons stay hidden where it does not run or the
// browser has no WebAuthn.
//
// Each ceremony fetches its options (a form-encoded POST carrying the form's CSRF token),
// asks the browser, then submits the form with the answer, so the server answers with a page
// or a redirect as for any other form.
(() => {
  'use strict';
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  const decode = (text) => {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const raw = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
  };
  const encode = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const withIds = (list) => (list || []).map((c) => ({ ...c, id: decode(c.id) }));

  const creationOptions = (o) => (PublicKeyCredential.parseCreationOptionsFromJSON
    ? PublicKeyCredential.parseCreationOptionsFromJSON(o)
    : { ...o, challenge: decode(o.challenge), user: { ...o.user, id: decode(o.user.id) },
      excludeCredentials: withIds(o.excludeCredentials) });
  const requestOptions = (o) => (PublicKeyCredential.parseRequestOptionsFromJSON
    ? PublicKeyCredential.parseRequestOptionsFromJSON(o)
    : { ...o, challenge: decode(o.challenge), allowCredentials: withIds(o.allowCredentials) });

  // The credential as JSON (WebAuthn level 3's toJSON, or the same shape by hand).
  const asJSON = (credential) => {
    if (typeof credential.toJSON === 'function') return credential.toJSON();
    const r = credential.response;
    const response = { clientDataJSON: encode(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = encode(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = encode(r.authenticatorData);
      response.signature = encode(r.signature);
      if (r.userHandle) response.userHandle = encode(r.userHandle);
    }
    return { id: credential.id, rawId: encode(credential.rawId), type: credential.type, response,
      clientExtensionResults: credential.getClientExtensionResults() };
  };

  // The ceremony's options: `{challenge_id, options}`, or an error with the server's words.
  const begin = async (form) => {
    const response = await fetch(form.dataset.options, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { accept: 'application/json' },
      body: new URLSearchParams({ csrf: form.elements.csrf.value }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || 'Something went wrong. Please try again.');
    return body;
  };
  const finish = (form, challengeId, credential) => {
    form.elements.challenge_id.value = challengeId;
    form.elements.credential.value = JSON.stringify(asJSON(credential));
    form.submit();
  };
  const say = (form, message) => {
    const line = form.querySelector('.passkey-error');
    line.textContent = message;
    line.hidden = !message;
  };
  const declined = (e) => e && (e.name === 'NotAllowedError' || e.name === 'AbortError');
  const unsupported = document.getElementById('passkey-unsupported');
  if (unsupported) unsupported.hidden = true;

  // The sign-in page: the button, and autofill on the email field (conditional mediation),
  // which the button cancels.
  const signIn = document.getElementById('passkey-sign-in');
  if (signIn) {
    let waiting = null;
    const ask = async (conditional) => {
      if (waiting) waiting.abort();
      const controller = new AbortController();
      waiting = controller;
      const begun = await begin(signIn);
      const credential = await navigator.credentials.get({
        publicKey: requestOptions(begun.options),
        signal: controller.signal,
        ...(conditional ? { mediation: 'conditional' } : {}),
      });
      if (credential) finish(signIn, begun.challenge_id, credential);
    };
    const button = signIn.querySelector('button');
    button.addEventListener('click', () => {
      say(signIn, '');
      ask(false).catch((e) => {
        if (waiting && waiting.signal.aborted) return;
        say(signIn, declined(e) ? 'No passkey was used. Try again, or sign in with your password.' : e.message);
      });
    });
    signIn.hidden = false;
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable()
        .then((available) => available && ask(true))
        .catch(() => {});
    }
  }

  // The account page: add a passkey.
  const add = document.getElementById('passkey-add');
  if (add) {
    const button = add.querySelector('button');
    button.addEventListener('click', async () => {
      say(add, '');
      button.disabled = true;
      try {
        const begun = await begin(add);
        const credential = await navigator.credentials.create({ publicKey: creationOptions(begun.options) });
        finish(add, begun.challenge_id, credential);
      } catch (e) {
        say(add, declined(e) ? 'No passkey was added.' : e.message);
        button.disabled = false;
      }
    });
    add.hidden = false;
  }
})();
