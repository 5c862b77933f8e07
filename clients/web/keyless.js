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
// Why a link waits for a click: mail scanners open every link in an email, some running its JavaScript;
// a page that redeemed links on load would hand the one-time link to them. The browser that asked for
// the link keeps a random device secret (only its hash goes out with the request) and needs no click.
// Tokens are kept in memory unless you pass a `tokenStorage`.

const TARGET = "AWSCognitoIdentityProviderService.";
/** What an AWS region and an app client id look like (checked before any address is built from them). */
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
export const CLIENT_ID = /^[A-Za-z0-9]{1,128}$/;
const MAX_DEVICE_SECRETS = 5; // recent requests whose links this browser would open without a click

/**
 * @typedef {{ getItem(key: string): string | null | undefined, setItem(key: string, value: string): void, removeItem(key: string): void }} KeyValueStorage
 * @typedef {{ IdToken: string, AccessToken: string, RefreshToken?: string, ExpiresIn?: number, TokenType?: string }} Tokens
 * @typedef {{ step: string, sentTo: string, expiresAt: string, codeAccepted: boolean, codeLength?: number, attemptsLeft?: number }} Sent
 *   What the email request answered: where it went (masked), until when it works, and whether this
 *   window may type a code from it (a code's email, or a link's email that carries a code).
 * @typedef {{ signedIn: true, tokens: Tokens } | { signedIn: false, attemptsLeft: number }} CodeAnswer
 * @typedef {{ userName: string, s: string, p: string, c: string, exp: number, iat?: number, m?: string, d?: string }} LinkPayload
 *   A link's readable first part (only its signature makes it worth anything).
 * @typedef {object} KeylessOptions
 * @property {string} clientId        the app client's id
 * @property {string} [region]        Cognito's region (https://cognito-idp.<region>.amazonaws.com/) ...
 * @property {string} [endpoint]      ... or an endpoint URL (the local user pool, a proxy)
 * @property {KeyValueStorage} [storage]       where the device secret waits for its link (default: localStorage, else memory)
 * @property {KeyValueStorage} [tokenStorage]  where tokens are kept (default: this object's memory only)
 * @property {typeof fetch} [fetch]
 * @property {Crypto} [crypto]
 */

/** An error Cognito (or Keyless, through Cognito) answered with; `type` is Cognito's __type. */
export class KeylessError extends Error {
  /** @param {string} type @param {string} message */
  constructor(type, message) {
    super(message);
    this.name = "KeylessError";
    this.type = type;
  }
}

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
  constructor({ clientId, region, endpoint, storage, tokenStorage, fetch: fetcher, crypto: cryptography }) {
    if (!CLIENT_ID.test(clientId || "")) throw new KeylessError("Config", "clientId is the app client's id.");
    if (!endpoint && !REGION.test(region || "")) throw new KeylessError("Config", "Give a region (e.g. eu-west-1) or an endpoint.");
    this.clientId = clientId;
    this.endpoint = endpoint || `https://cognito-idp.${region}.amazonaws.com/`;
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
    const answer = await this.#respond(code.trim(), { signInMethod: "EMAIL_OTP" });
    if (answer.AuthenticationResult) return { signedIn: true, tokens: this.#keep(answer.AuthenticationResult) };
    this.challenge = answer;
    return { signedIn: false, attemptsLeft: Number(answer.ChallengeParameters.attemptsLeft || 0) };
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

  async #request(email, metadata) {
    this.challenge = await this.call("InitiateAuth", {
      ClientId: this.clientId,
      AuthFlow: "CUSTOM_AUTH",
      AuthParameters: { USERNAME: email },
    });
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
    this.challenge = await this.call("InitiateAuth", {
      ClientId: this.clientId,
      AuthFlow: "CUSTOM_AUTH",
      AuthParameters: { USERNAME: link.userName },
    });
    const answer = await this.#respond(secret, metadata);
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
