// Keyless for web apps: passwordless sign-in against an Amazon Cognito user pool that runs Keyless.
// One dependency-free ES module; it talks to Cognito's public API (InitiateAuth, RespondToAuthChallenge,
// SignUp, ...) with fetch, and nothing else. Copy it into your app or serve it as it is.
//
//   import { Keyless } from "./keyless.js";
//   const keyless = new Keyless({ region: "eu-west-1", clientId: "<app client id>" });
//   await keyless.requestLink("jane@example.com", "https://app.example.com/signin");
//   // ... on https://app.example.com/signin#<secret>:
//   const landing = keyless.openLink(location.href);     // sends nothing
//   if (landing.fromThisBrowser) await landing.redeem(); // the browser that asked: at once
//   else button.onclick = () => landing.redeem();        // anyone else: on the person's click
//
// Passkeys (when the pool runs Keyless with Passkeys=Enabled; managementApiUrl is the stack's
// ManagementApiUrl output):
//
//   const keyless = new Keyless({ region, clientId, managementApiUrl });
//   await keyless.signInWithPasskey({ email });   // or signInWithPasskey() where the passkey names its user
//   await keyless.addPasskey({ name: "Laptop" }); // signed in (recently): the browser makes one
//   await keyless.listPasskeys();
//   await keyless.renamePasskey({ credentialId, name });
//   await keyless.removePasskey({ credentialId });
//
// Authenticator apps (AuthenticatorApps=Enabled, or AuthenticatorAppSecondStep=Required; managementApiUrl too):
//
//   const setup = await keyless.startAuthenticatorApp();  // signed in recently: { secret, otpauthUri, qrCodeSvg }
//   await keyless.confirmAuthenticatorApp({ code });       // the first code the app shows makes it active
//   await keyless.signInWithAuthenticatorApp({ email, code }); // { signedIn, tokens } or { signedIn: false, attemptsLeft }
//   // With the second step required, answerCode() and a link's redeem() ask for the app's code first:
//   //   answerCode -> { signedIn: false, secondStep: true, attemptsLeft }; redeem() throws type "SecondStepNeeded";
//   //   then answerAuthenticatorCode(code).
//   await keyless.removeAuthenticatorApp();
//
// Why a link waits for a click: mail scanners open every link in an email, some running its JavaScript;
// a page that redeemed links on load would hand the one-time link to them. The browser that asked for
// the link keeps a random device secret (only its hash goes out with the request) and needs no click.
// Tokens are kept in memory unless you pass a `tokenStorage`.

const TARGET = "AWSCognitoIdentityProviderService.";
/** What an AWS region and an app client id look like (checked before any address is built from them). */
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
export const CLIENT_ID = /^[A-Za-z0-9]{1,128}$/;
const SECOND_STEP = "TOTP_STEP_UP"; // the round asking for the authenticator app's code after an email proof
const MAX_DEVICE_SECRETS = 5; // recent requests whose links this browser would open without a click

/**
 * @typedef {{ getItem(key: string): string | null | undefined, setItem(key: string, value: string): void, removeItem(key: string): void }} KeyValueStorage
 * @typedef {{ IdToken: string, AccessToken: string, RefreshToken?: string, ExpiresIn?: number, TokenType?: string }} Tokens
 * @typedef {{ step: string, sentTo: string, expiresAt: string, codeAccepted: boolean, codeLength?: number, attemptsLeft?: number }} Sent
 *   What the email request answered: where it went (masked), until when it works, and whether this
 *   window may type a code from it (a code's email, or a link's email that carries a code).
 * @typedef {{ signedIn: true, tokens: Tokens } | { signedIn: false, attemptsLeft: number, secondStep?: boolean }} CodeAnswer
 *   secondStep: the code was right, and this user's authenticator app must confirm it (answerAuthenticatorCode)
 * @typedef {{ secret: string, otpauthUri: string, qrCodeSvg: string }} AuthenticatorSetup
 *   A new authenticator app's secret: scan the QR code (SVG), or type the secret; then confirm with its first code.
 * @typedef {{ userName: string, s: string, p: string, c: string, exp: number, iat?: number, m?: string, d?: string }} LinkPayload
 *   A link's readable first part (only its signature makes it worth anything).
 * @typedef {{ credentialId: string, friendlyName: string, createdAt: string, lastSignIn?: string, signCount?: number, transports?: string[], rpId?: string }} Passkey
 *   A passkey of the signed-in user, as the management API lists it (never its key).
 * @typedef {{ create(options: { publicKey: object }): Promise<any>, get(options: { publicKey: object }): Promise<any> }} PasskeyCredentials
 *   What navigator.credentials offers (WebAuthn).
 * @typedef {object} KeylessOptions
 * @property {string} clientId        the app client's id
 * @property {string} [region]        Cognito's region (https://cognito-idp.<region>.amazonaws.com/) ...
 * @property {string} [endpoint]      ... or an endpoint URL (the local user pool, a proxy)
 * @property {string} [managementApiUrl]  the management API (the stack's ManagementApiUrl output), for passkeys
 * @property {string} [rpId]          the passkeys' relying party (default: this page's host name)
 * @property {KeyValueStorage} [storage]       where the device secret waits for its link (default: localStorage, else memory)
 * @property {KeyValueStorage} [tokenStorage]  where tokens are kept (default: this object's memory only)
 * @property {typeof fetch} [fetch]
 * @property {Crypto} [crypto]
 * @property {PasskeyCredentials} [credentials]  WebAuthn (default: navigator.credentials)
 */

/**
 * An error Cognito (or Keyless, through Cognito) answered with; `type` is Cognito's __type. The
 * management API's errors have the types of API_ERRORS, the browser's WebAuthn refusals those of
 * WEBAUTHN_ERRORS.
 */
export class KeylessError extends Error {
  /** @param {string} type @param {string} message @param {number} [status] the management API's HTTP status */
  constructor(type, message, status) {
    super(message);
    this.name = "KeylessError";
    this.type = type;
    this.status = status;
  }
}

/** The management API's answers by HTTP status (its message comes with them). */
export const API_ERRORS = {
  400: "BadRequest",
  401: "NotAuthorized", // the token was refused: sign in again
  403: "SignInAgain", // adding a passkey or an authenticator app needs a recent sign-in
  404: "NotFound",
  429: "TooManyRequests",
};

/** A browser's WebAuthn refusals (DOMException names), in words a person can act on. */
export const WEBAUTHN_ERRORS = {
  NotAllowedError: [
    "PasskeyCancelled",
    "No passkey was used: the prompt was closed or timed out, or this device holds no passkey for this account.",
  ],
  InvalidStateError: ["PasskeyExists", "This device already holds a passkey for this account."],
  SecurityError: ["PasskeyWrongSite", "Passkeys of this app work only on its own web address."],
  NotSupportedError: ["PasskeysUnsupported", "This browser or device cannot make or use such a passkey."],
  AbortError: ["PasskeyCancelled", "The passkey prompt was cancelled."],
};

/** @returns {KeyValueStorage} */
export function memoryStorage() {
  const items = new Map();
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => void items.set(key, String(value)),
    removeItem: (key) => void items.delete(key),
  };
}

const base64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function fromBase64url(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/** @param {ArrayBuffer | ArrayBufferView} buffer */
const bufferBase64url = (buffer) =>
  base64url(
    ArrayBuffer.isView(buffer) ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : new Uint8Array(buffer),
  );

/**
 * The user a discoverable passkey names (its user handle, as Keyless makes it): the user name, or null
 * when the handle holds the user's sub only ("s|<sub>"), which cannot start a sign-in: type the email then.
 * @param {string} userHandleB64 base64url
 * @returns {string | null}
 */
export function userOfHandle(userHandleB64) {
  const handle = new TextDecoder().decode(fromBase64url(userHandleB64));
  if (!handle || handle.startsWith("s|")) return null;
  return handle.replace(/^u\|/, "");
}

/** A passkey's name as the management API takes it: trimmed, 1 to 64 characters. @param {unknown} name */
function passkeyName(name) {
  const trimmed = typeof name === "string" ? name.trim() : "";
  if (!trimmed || trimmed.length > 64) throw new KeylessError("InvalidName", "Give the passkey a name of 1 to 64 characters.");
  return trimmed;
}

/**
 * The readable part of a link's secret (what follows '#'). Throws KeylessError("InvalidLink") for
 * anything that is not a whole Keyless link.
 * @param {string} secret
 * @returns {LinkPayload}
 */
export function readLink(secret) {
  try {
    const link = JSON.parse(new TextDecoder().decode(fromBase64url(secret.split(".")[0])));
    const named = ["userName", "s", "p", "c"].every((field) => typeof link[field] === "string");
    if (named && typeof link.exp === "number" && secret.includes(".")) return link;
  } catch {
    // reported below
  }
  throw new KeylessError("InvalidLink", "This link is not complete. Copy the whole link from the email, or ask for a new one.");
}

/** @param {string} jwt @returns {Record<string, unknown>} the token's claims (not verified: for display) */
export function claimsOf(jwt) {
  return JSON.parse(new TextDecoder().decode(fromBase64url(jwt.split(".")[1])));
}

export class Keyless {
  /** @param {KeylessOptions} options */
  constructor({
    clientId, region, endpoint, managementApiUrl, rpId, storage, tokenStorage, fetch: fetcher, crypto: cryptography, credentials,
  }) {
    if (!CLIENT_ID.test(clientId || "")) throw new KeylessError("Config", "clientId is the app client's id.");
    if (!endpoint && !REGION.test(region || "")) throw new KeylessError("Config", "Give a region (e.g. eu-west-1) or an endpoint.");
    this.clientId = clientId;
    this.endpoint = endpoint || `https://cognito-idp.${region}.amazonaws.com/`;
    this.managementApiUrl = managementApiUrl ? managementApiUrl.replace(/\/+$/, "") : "";
    this.rpId = rpId || globalThis.location?.hostname || "";
    this.credentials = credentials || globalThis.navigator?.credentials;
    this.storage = storage || globalThis.localStorage || memoryStorage();
    this.tokenStorage = tokenStorage || memoryStorage();
    this.fetch = fetcher || globalThis.fetch.bind(globalThis);
    this.crypto = cryptography || globalThis.crypto;
    /** @type {{ Session: string, ChallengeParameters: Record<string, string> } | null} */
    this.challenge = null;
  }

  /** @returns {Tokens | null} */
  get tokens() {
    const kept = this.tokenStorage.getItem(this.#slot("tokens"));
    return kept ? JSON.parse(kept) : null;
  }

  /**
   * A passwordless sign-up: Cognito's SignUp wants a password, so one nobody keeps is sent.
   * @param {string} email
   * @returns {Promise<{ confirmed: boolean, destination?: string }>} destination: where the pool emailed a confirmation code
   */
  async signUp(email) {
    const created = await this.call("SignUp", {
      ClientId: this.clientId,
      Username: email,
      Password: "Aa1-" + base64url(this.crypto.getRandomValues(new Uint8Array(24))),
      UserAttributes: [{ Name: "email", Value: email }],
    });
    return { confirmed: Boolean(created.UserConfirmed), destination: created.CodeDeliveryDetails?.Destination };
  }

  /** @param {string} email @param {string} code the confirmation code the pool emailed */
  async confirmSignUp(email, code) {
    await this.call("ConfirmSignUp", { ClientId: this.clientId, Username: email, ConfirmationCode: code.trim() });
  }

  /**
   * Email a sign-in link (pointing at redirectUri, which Keyless must allow) to the user.
   * @param {string} email @param {string} redirectUri
   * @returns {Promise<Sent>}
   */
  async requestLink(email, redirectUri) {
    return this.#request(email, { signInMethod: "MAGIC_LINK", redirectUri });
  }

  /** @param {string} email @returns {Promise<Sent>} */
  async requestCode(email) {
    return this.#request(email, { signInMethod: "EMAIL_OTP" });
  }

  /**
   * Answer this window's sign-in with the code from its email (a code's, or a link's that carries one).
   * @param {string} code
   * @returns {Promise<CodeAnswer>}
   */
  async answerCode(code) {
    if (!this.challenge) throw new KeylessError("NoSignIn", "Ask for a code first.");
    return this.#codeAnswer(await this.#respond(code.trim(), { signInMethod: "EMAIL_OTP" }));
  }

  /** Tokens, or the next round: another try at the same code, or the authenticator app's second step. @returns {CodeAnswer} */
  #codeAnswer(answer) {
    if (answer.AuthenticationResult) return { signedIn: true, tokens: this.#keep(answer.AuthenticationResult) };
    this.challenge = answer;
    const attemptsLeft = Number(answer.ChallengeParameters.attemptsLeft || 0);
    return answer.ChallengeParameters.step === SECOND_STEP ? { signedIn: false, secondStep: true, attemptsLeft } : { signedIn: false, attemptsLeft };
  }

  /** Whether this sign-in waits for the authenticator app's code (after a right email code or link). */
  get secondStepPending() {
    return this.challenge?.ChallengeParameters?.step === SECOND_STEP;
  }

  // --- authenticator apps ---------------------------------------------------------------------------

  /**
   * Sign in with a code from the user's authenticator app: no email is sent. A wrong code leaves this
   * sign-in open for answerAuthenticatorCode (attemptsLeft).
   * @param {{ email: string, code: string }} options
   * @returns {Promise<CodeAnswer>}
   */
  async signInWithAuthenticatorApp({ email, code }) {
    await this.#start(email.trim());
    if (!this.challenge?.ChallengeParameters?.methods?.split(",").includes("TOTP")) {
      throw new KeylessError("AuthenticatorAppsOff", "This app does not offer sign-in with an authenticator app.");
    }
    this.challenge = await this.#respond("-", { signInMethod: "TOTP" });
    return this.answerAuthenticatorCode(code);
  }

  /**
   * Answer the round that asks for the authenticator app's code: the sign-in with the app (after a
   * wrong code), or the second step after a right email code or link.
   * @param {string} code
   * @returns {Promise<CodeAnswer>}
   */
  async answerAuthenticatorCode(code) {
    const step = this.challenge?.ChallengeParameters?.step;
    if (step !== "TOTP" && step !== SECOND_STEP) throw new KeylessError("NoSignIn", "No sign-in is waiting for an authenticator code.");
    return this.#codeAnswer(await this.#respond(code.trim(), { signInMethod: "TOTP" }));
  }

  /**
   * Begin setting up an authenticator app for the signed-in user (a recent sign-in: KeylessError
   * "SignInAgain" otherwise). Replaces one being set up; refused while one is set up.
   * @returns {Promise<AuthenticatorSetup>}
   */
  async startAuthenticatorApp() {
    return this.#api("authenticator-app/start", {});
  }

  /** Confirm the app with the first code it shows: only then does it sign in. @param {{ code: string }} options */
  async confirmAuthenticatorApp({ code }) {
    return this.#api("authenticator-app/confirm", { code: String(code).trim() });
  }

  /** Remove the signed-in user's authenticator app (a recent sign-in). @returns {Promise<{ removed: boolean }>} */
  async removeAuthenticatorApp() {
    return this.#api("authenticator-app/remove", {});
  }

  /** @returns {Promise<{ status: "none" | "pending" | "active", confirmedAt?: string }>} */
  async authenticatorAppStatus() {
    return this.#api("authenticator-app/status", {});
  }

  /**
   * What a link opened at `href` is, without sending anything. Call redeem() at once only when
   * fromThisBrowser; otherwise on the person's click (a mail scanner opens links too). A link of
   * another app client throws KeylessError "WrongClient", before anything is sent.
   * @param {string} href the page's address, with the link's secret after '#'
   */
  openLink(href) {
    const secret = decodeURIComponent(new URL(href).hash.slice(1));
    const link = readLink(secret);
    // A link names (signed) the app client it was issued for; redeemed at another, it would sign the
    // person in to an app they never asked to enter.
    if (link.c !== this.clientId) throw new KeylessError("WrongClient", "This link was issued for another app.");
    // Only the secret this link was asked for with (its tag `d`), not any this browser keeps: a link
    // someone else asked for (their own account's, say) waits for a click here too.
    const kept = this.#deviceSecrets(link.c).find((entry) => typeof link.d === "string" && entry.tag === link.d);
    const device = kept ? kept.secret : "";
    return {
      link,
      /** whom the link signs in, as it may be shown (j***@e***.com, or the user name) */
      who: typeof link.m === "string" && link.m !== "***" ? link.m : link.userName,
      expired: link.exp * 1000 <= Date.now(),
      fromThisBrowser: Boolean(device),
      /** @returns {Promise<Tokens>} */
      redeem: () => this.#redeem(secret, link, device),
    };
  }

  // --- passkeys ---------------------------------------------------------------------------------

  /**
   * Sign in with a passkey: no email is sent. With an email, the account's passkeys are offered; without
   * one, the browser offers every passkey it holds for this site, and the one chosen names its user
   * (KeylessError "EmailNeeded" when it cannot: then ask for the email).
   * @param {{ email?: string }} [options]
   * @returns {Promise<Tokens>}
   */
  async signInWithPasskey({ email } = {}) {
    let assertion;
    if (email) {
      await this.#start(email.trim());
      const offered = this.challenge?.ChallengeParameters?.fido2options;
      if (!offered) throw new KeylessError("PasskeysOff", "This app does not offer passkeys.");
      assertion = await this.#assert(JSON.parse(offered));
    } else {
      assertion = await this.#assert(await this.#api("sign-in-challenge", undefined, false));
      const user = assertion.userHandleB64 ? userOfHandle(assertion.userHandleB64) : null;
      if (!user) throw new KeylessError("EmailNeeded", "Type your email address to sign in with this passkey.");
      await this.#start(user);
    }
    const answer = await this.#respond(JSON.stringify(assertion), { signInMethod: "FIDO2" });
    if (!answer.AuthenticationResult) throw new KeylessError("NotAuthorizedException", "Incorrect username or password.");
    return this.#keep(answer.AuthenticationResult);
  }

  /**
   * Make a passkey on this device for the signed-in user, named as given. Needs a recent sign-in
   * (KeylessError "SignInAgain" otherwise) and a verified email address.
   * @param {{ name: string }} options
   * @returns {Promise<Passkey>}
   */
  async addPasskey({ name }) {
    const friendlyName = passkeyName(name);
    const options = await this.#api(`register-authenticator/start?rpId=${encodeURIComponent(this.rpId)}`);
    const publicKey = {
      ...options,
      challenge: fromBase64url(options.challenge),
      // Keyless sends the user handle as text; WebAuthn takes its characters as bytes.
      user: { ...options.user, id: Uint8Array.from(options.user.id, (c) => c.charCodeAt(0)) },
      excludeCredentials: (options.excludeCredentials || []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
    };
    const credential = await this.#webauthn("create", publicKey);
    const transports = credential.response.getTransports?.() || [];
    return this.#api("register-authenticator/complete", {
      attestationObjectB64: bufferBase64url(credential.response.attestationObject),
      clientDataJSON_B64: bufferBase64url(credential.response.clientDataJSON),
      ...(transports.length ? { transports } : {}),
      friendlyName,
    });
  }

  /** The signed-in user's passkeys for this site. @returns {Promise<Passkey[]>} */
  async listPasskeys() {
    const { authenticators } = await this.#api(`authenticators/list?rpId=${encodeURIComponent(this.rpId)}`);
    return authenticators;
  }

  /** @param {{ credentialId: string, name: string }} options */
  async renamePasskey({ credentialId, name }) {
    await this.#api("authenticators/update", { credentialId, friendlyName: passkeyName(name) });
  }

  /** Remove one of the signed-in user's passkeys: it no longer signs in. @param {{ credentialId: string }} options */
  async removePasskey({ credentialId }) {
    await this.#api("authenticators/delete", { credentialId });
  }

  /** New ID and access tokens for the refresh token. @returns {Promise<Tokens>} */
  async refresh() {
    const refreshToken = this.tokens?.RefreshToken;
    if (!refreshToken) throw new KeylessError("NotSignedIn", "Sign in first.");
    const answer = await this.call("InitiateAuth", {
      ClientId: this.clientId,
      AuthFlow: "REFRESH_TOKEN_AUTH",
      AuthParameters: { REFRESH_TOKEN: refreshToken },
    });
    return this.#keep(answer.AuthenticationResult);
  }

  /** Sign out everywhere (GlobalSignOut); the tokens are forgotten here whatever Cognito answers. */
  async signOut() {
    const tokens = this.tokens;
    this.tokenStorage.removeItem(this.#slot("tokens"));
    if (tokens) await this.call("GlobalSignOut", { AccessToken: tokens.AccessToken }).catch(() => undefined);
  }

  /** One Cognito API call. @param {string} operation @param {object} body */
  async call(operation, body) {
    let response;
    try {
      response = await this.fetch(this.endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + operation },
        body: JSON.stringify(body),
      });
    } catch {
      throw new KeylessError("NetworkError", `Cannot reach the user pool at ${this.endpoint}.`);
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const type = String(data.__type || "UnknownError").split("#").pop();
      throw new KeylessError(type, data.message || data.Message || `HTTP ${response.status}`);
    }
    return data;
  }

  async #start(username) {
    this.challenge = await this.call("InitiateAuth", {
      ClientId: this.clientId,
      AuthFlow: "CUSTOM_AUTH",
      AuthParameters: { USERNAME: username },
    });
  }

  async #request(email, metadata) {
    await this.#start(email);
    const device = await this.#newDevice();
    this.challenge = await this.#respond("-", { ...metadata, deviceHash: device.hash });
    this.#keepDeviceSecret(device); // only once the request is taken: a refused one leaves the last link its secret
    const p = this.challenge.ChallengeParameters;
    const codeAccepted = p.step === "EMAIL_OTP";
    return {
      step: p.step,
      sentTo: p.sentTo,
      expiresAt: p.expiresAt,
      codeAccepted,
      ...(codeAccepted ? { codeLength: Number(p.codeLength), attemptsLeft: Number(p.attemptsLeft) } : {}),
    };
  }

  async #redeem(secret, link, device) {
    const metadata = { signInMethod: "MAGIC_LINK", alreadyHaveMagicLink: "yes", ...(device ? { deviceSecret: device } : {}) };
    await this.#start(link.userName);
    const answer = await this.#respond(secret, metadata);
    if (!answer.AuthenticationResult && answer.ChallengeParameters?.step === SECOND_STEP) {
      this.challenge = answer;
      throw new KeylessError("SecondStepNeeded", "Type the code your authenticator app shows.");
    }
    if (!answer.AuthenticationResult) throw new KeylessError("NotAuthorizedException", "Incorrect username or password.");
    return this.#keep(answer.AuthenticationResult);
  }

  #respond(answer, metadata) {
    return this.call("RespondToAuthChallenge", {
      ClientId: this.clientId,
      ChallengeName: "CUSTOM_CHALLENGE",
      Session: this.challenge.Session,
      ChallengeResponses: { USERNAME: this.challenge.ChallengeParameters.USERNAME, ANSWER: answer },
      ClientMetadata: metadata,
    });
  }

  /**
   * The management API: POST with the ID token (withToken), JSON both ways.
   * @param {string} path @param {object} [body] @param {boolean} [withToken]
   */
  async #api(path, body, withToken = true) {
    if (!this.managementApiUrl) {
      throw new KeylessError("Config", "Passkeys and authenticator apps need managementApiUrl (the stack's ManagementApiUrl output).");
    }
    const headers = { "Content-Type": "application/json" };
    if (withToken) {
      const idToken = this.tokens?.IdToken;
      if (!idToken) throw new KeylessError("NotSignedIn", "Sign in first.");
      headers.Authorization = `Bearer ${idToken}`;
    }
    let response;
    try {
      response = await this.fetch(`${this.managementApiUrl}/${path}`, {
        method: "POST",
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch {
      throw new KeylessError("NetworkError", `Cannot reach the management API at ${this.managementApiUrl}.`);
    }
    const text = await response.text().catch(() => "");
    let data = {};
    try {
      data = text ? JSON.parse(text) : {};
    } catch {
      // reported below when the status says it failed
    }
    if (!response.ok) {
      const type = API_ERRORS[response.status] || "ServerError";
      throw new KeylessError(type, data.message || `HTTP ${response.status}`, response.status);
    }
    return data;
  }

  /**
   * navigator.credentials.create or .get, its refusals as KeylessErrors.
   * @param {"create" | "get"} verb @param {object} publicKey
   */
  async #webauthn(verb, publicKey) {
    if (!this.credentials || typeof this.credentials[verb] !== "function") {
      throw new KeylessError("PasskeysUnsupported", "This browser cannot use passkeys here (passkeys need https or localhost).");
    }
    try {
      const credential = await this.credentials[verb]({ publicKey });
      if (!credential) throw new KeylessError("PasskeyCancelled", WEBAUTHN_ERRORS.NotAllowedError[1]);
      return credential;
    } catch (error) {
      if (error instanceof KeylessError) throw error;
      const known = WEBAUTHN_ERRORS[error?.name];
      const [type, message] = known || ["PasskeyFailed", `The passkey did not work: ${error?.message || error}`];
      throw new KeylessError(type, message);
    }
  }

  /**
   * The browser's assertion for Keyless's request options (fido2options or a usernameless challenge),
   * as Keyless takes it for an ANSWER.
   * @param {{ challenge: string, relyingPartyId?: string, credentials?: { id: string, transports?: string[] }[],
   *   timeout?: number, userVerification?: string }} options
   */
  async #assert(options) {
    const credential = await this.#webauthn("get", {
      challenge: fromBase64url(options.challenge),
      rpId: options.relyingPartyId || this.rpId,
      allowCredentials: (options.credentials || []).map((c) => ({
        type: "public-key",
        id: fromBase64url(c.id),
        ...(c.transports ? { transports: c.transports } : {}),
      })),
      timeout: options.timeout,
      userVerification: options.userVerification,
    });
    const { response } = credential;
    return {
      credentialIdB64: bufferBase64url(credential.rawId),
      authenticatorDataB64: bufferBase64url(response.authenticatorData),
      clientDataJSON_B64: bufferBase64url(response.clientDataJSON),
      signatureB64: bufferBase64url(response.signature),
      userHandleB64: response.userHandle && response.userHandle.byteLength ? bufferBase64url(response.userHandle) : null,
    };
  }

  // A new secret for each request: its hash goes with the request (Keyless stores it with the link,
  // and puts its tag in the link), the secret stays in this browser until the link comes back to it.
  async #newDevice() {
    const secret = base64url(this.crypto.getRandomValues(new Uint8Array(32)));
    const hash = base64url(new Uint8Array(await this.#sha256(secret)));
    const tag = base64url(new Uint8Array(await this.#sha256("keyless.device-tag|" + hash))).slice(0, 16);
    return { secret, hash, tag };
  }

  #sha256(text) {
    return this.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  }

  #keepDeviceSecret({ secret, tag }) {
    const kept = [{ secret, tag }, ...this.#deviceSecrets(this.clientId)].slice(0, MAX_DEVICE_SECRETS);
    this.storage.setItem(this.#deviceSlot(this.clientId), JSON.stringify(kept));
  }

  /** @returns {{ secret: string, tag: string }[]} the secrets of this browser's recent requests, newest first */
  #deviceSecrets(clientId) {
    try {
      const kept = JSON.parse(this.storage.getItem(this.#deviceSlot(clientId)) || "[]");
      return Array.isArray(kept) ? kept.filter((e) => typeof e?.secret === "string" && typeof e?.tag === "string") : [];
    } catch {
      return [];
    }
  }

  // Signed in: the links this browser asked for are no use any more (each is spent, or superseded).
  #keep(result) {
    const tokens = { ...(this.tokens || {}), ...result };
    this.tokenStorage.setItem(this.#slot("tokens"), JSON.stringify(tokens));
    this.storage.removeItem(this.#deviceSlot(this.clientId));
    this.challenge = null;
    return tokens;
  }

  #deviceSlot(clientId) {
    return `keyless.devices:${clientId}`; // an app client belongs to one user pool
  }

  #slot(name) {
    return `keyless.${name}:${this.clientId}`;
  }
}
