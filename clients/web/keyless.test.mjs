// The web kit against a served local user pool (tests/test_client_kits.py starts it and passes its
// address, app client and pool id in the environment). Each browser is a Keyless object with its own
// storage, as two browsers' localStorage are.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Keyless, KeylessError, claimsOf, memoryStorage, readLink, userOfHandle } from "./keyless.js";

const { KEYLESS_POOL_URL: poolUrl, KEYLESS_CLIENT_ID: clientId } = process.env;
const page = `${poolUrl}/`;
let users = 0;

function aBrowser() {
  return new Keyless({ endpoint: page, clientId, storage: memoryStorage() });
}

async function aUser() {
  const email = `web-kit-${++users}@example.com`;
  assert.deepEqual(await aBrowser().signUp(email), { confirmed: true, destination: undefined });
  return email;
}

async function newestMailTo(address) {
  const response = await fetch(`${poolUrl}/mailbox`, { headers: { Accept: "application/json" } });
  return (await response.json()).find((mail) => mail.to.includes(address)).text;
}
const linkIn = (text) => /(https?:\/\/\S+#\S+)/.exec(text)[1];
const codeIn = (text) => /^\s*(\d{6,8})\s*$/m.exec(text)[1];
const wrong = (code) => String((Number(code) + 1) % 10 ** code.length).padStart(code.length, "0");

test("a code: a wrong one leaves tries, the right one signs in; refresh; sign out", async () => {
  const email = await aUser();
  const browser = aBrowser();
  const sent = await browser.requestCode(email);
  assert.equal(sent.step, "EMAIL_OTP");
  assert.equal(sent.sentTo, "w***@e***.com");
  assert.equal(sent.codeAccepted, true);
  const code = codeIn(await newestMailTo(email));
  assert.deepEqual(await browser.answerCode(wrong(code)), { signedIn: false, attemptsLeft: 2 });
  const answer = await browser.answerCode(code);
  assert.equal(answer.signedIn, true);
  assert.equal(claimsOf(answer.tokens.IdToken).email, email);
  const refreshed = await browser.refresh();
  assert.notEqual(refreshed.AccessToken, answer.tokens.AccessToken);
  await browser.signOut();
  assert.equal(browser.tokens, null);
});

test("a link opened in the browser that asked signs in without a click", async () => {
  const email = await aUser();
  const browser = aBrowser();
  const sent = await browser.requestLink(email, page);
  assert.equal(sent.codeAccepted, true); // the link's email carries a code for this window too
  const landing = browser.openLink(linkIn(await newestMailTo(email)));
  assert.equal(landing.fromThisBrowser, true);
  assert.equal(landing.expired, false);
  const tokens = await landing.redeem();
  assert.equal(claimsOf(tokens.IdToken).email, email);
});

test("a link opened elsewhere names whom it signs in, and redeems only when asked to", async () => {
  const email = await aUser();
  await aBrowser().requestLink(email, page);
  const elsewhere = aBrowser();
  const landing = elsewhere.openLink(linkIn(await newestMailTo(email)));
  assert.equal(landing.fromThisBrowser, false);
  assert.equal(landing.who, "w***@e***.com");
  assert.equal(elsewhere.tokens, null); // opening it sent nothing
  await landing.redeem();
  assert.equal(claimsOf(elsewhere.tokens.IdToken).email, email);
  await assert.rejects(aBrowser().openLink(linkIn(await newestMailTo(email))).redeem(), { type: "NotAuthorizedException" });
});

test("a link of another app client is refused before anything is sent", async () => {
  const email = await aUser();
  await aBrowser().requestLink(email, page);
  const otherApp = new Keyless({ endpoint: page, clientId: "another0app0client0id0", storage: memoryStorage() });
  const link = linkIn(await newestMailTo(email));
  assert.throws(() => otherApp.openLink(link), { type: "WrongClient" });
});

test("the code in a link's email signs in the window that asked after someone else used the link", async () => {
  const email = await aUser();
  const asking = aBrowser();
  await asking.requestLink(email, page);
  const mail = await newestMailTo(email);
  await aBrowser().openLink(linkIn(mail)).redeem(); // a mail scanner that clicks
  const answer = await asking.answerCode(codeIn(mail));
  assert.equal(answer.signedIn, true);
});

test("anything that is not a whole link is refused before anything is sent", () => {
  for (const secret of ["", "abc", "eyJ1IjoieCJ9", "x.y", "%%%.sig"]) {
    assert.throws(() => readLink(secret), KeylessError);
  }
  assert.throws(() => new Keyless({ clientId: "bad id!", region: "eu-west-1" }), { type: "Config" });
  assert.throws(() => new Keyless({ clientId: "abc", region: "nowhere" }), { type: "Config" });
});

// --- passkeys, without a browser: what goes over the wire, what the browser is asked, what goes wrong.
// (tests/test_passkeys_pages.py does the same in Chromium, with a virtual authenticator, against the pool.)

const COGNITO = "https://cognito.example/";
const MANAGEMENT_API = "https://api.example.com/";
const TARGET = "AWSCognitoIdentityProviderService.";
const bytes = (...values) => Uint8Array.from(values).buffer;
const b64url = (buffer) => Buffer.from(buffer).toString("base64url");
const fakeJwt = (claims) => ["e30", Buffer.from(JSON.stringify(claims)).toString("base64url"), "c2ln"].join(".");
const SIGNED_IN = { IdToken: fakeJwt({ token_use: "id" }), AccessToken: fakeJwt({ token_use: "access" }), RefreshToken: "r" };

// A browser with a fake network (answer(request) -> {status, body}) and a fake authenticator.
function aPasskeyBrowser({ answer, authenticator = {}, signedIn = true, ...options }) {
  const requests = [];
  const asked = [];
  const fetch = async (url, init) => {
    const request = {
      url: String(url),
      operation: init.headers["X-Amz-Target"]?.slice(TARGET.length),
      authorization: init.headers.Authorization,
      body: init.body === undefined ? undefined : JSON.parse(init.body),
    };
    requests.push(request);
    const { status = 200, body } = answer(request);
    return new Response(body === undefined ? null : JSON.stringify(body), { status });
  };
  const credentials = {
    create: async (options) => (asked.push(["create", options]), authenticator.create(options)),
    get: async (options) => (asked.push(["get", options]), authenticator.get(options)),
  };
  const tokenStorage = memoryStorage();
  if (signedIn) tokenStorage.setItem(`keyless.tokens:${CLIENT}`, JSON.stringify(SIGNED_IN));
  const keyless = new Keyless({
    endpoint: COGNITO, clientId: CLIENT, managementApiUrl: MANAGEMENT_API, rpId: "app.example.com",
    storage: memoryStorage(), tokenStorage, fetch, credentials, ...options,
  });
  return { keyless, requests, asked };
}
const CLIENT = "client0id0for0passkeys";

const anAssertion = (userHandle) => ({
  rawId: bytes(1, 2, 3),
  response: {
    authenticatorData: bytes(4, 5),
    clientDataJSON: new TextEncoder().encode('{"type":"webauthn.get"}').buffer,
    signature: bytes(6, 7),
    userHandle: userHandle === undefined ? null : new TextEncoder().encode(userHandle).buffer,
  },
});
const refusedBy = (name) => async () => {
  throw new DOMException("refused", name);
};

test("addPasskey: options from the API, a passkey from the browser, sent back with its name", async () => {
  const options = {
    challenge: b64url(bytes(9, 9, 9)),
    rp: { id: "app.example.com", name: "App" },
    user: { id: "u|7d4e", name: "jane@example.com", displayName: "jane@example.com" },
    pubKeyCredParams: [{ type: "public-key", alg: -7 }],
    excludeCredentials: [{ id: b64url(bytes(1, 1)), type: "public-key" }],
    authenticatorSelection: { residentKey: "preferred", userVerification: "required" },
    timeout: 300000,
    attestation: "none",
  };
  const stored = { credentialId: "AQID", friendlyName: "Laptop", createdAt: "2027-01-15T00:00:00Z" };
  const { keyless, requests, asked } = aPasskeyBrowser({
    answer: (r) => ({ body: r.url.includes("/start") ? options : stored }),
    authenticator: {
      create: async () => ({
        rawId: bytes(1, 2, 3),
        response: {
          attestationObject: bytes(0xa3, 1),
          clientDataJSON: bytes(0x7b, 0x7d),
          getTransports: () => ["internal", "hybrid"],
        },
      }),
    },
  });
  assert.deepEqual(await keyless.addPasskey({ name: "  Laptop " }), stored);
  assert.equal(requests[0].url, `${MANAGEMENT_API}register-authenticator/start?rpId=app.example.com`);
  assert.equal(requests[0].authorization, `Bearer ${SIGNED_IN.IdToken}`);
  assert.equal(requests[0].body, undefined);
  const [[verb, { publicKey }]] = asked;
  assert.equal(verb, "create");
  assert.deepEqual([...publicKey.challenge], [9, 9, 9]);
  assert.deepEqual([...publicKey.user.id], [..."u|7d4e"].map((c) => c.charCodeAt(0)));
  assert.deepEqual([...publicKey.excludeCredentials[0].id], [1, 1]);
  assert.deepEqual(publicKey.rp, options.rp);
  assert.equal(publicKey.authenticatorSelection.userVerification, "required");
  assert.equal(requests[1].url, `${MANAGEMENT_API}register-authenticator/complete`);
  assert.deepEqual(requests[1].body, {
    attestationObjectB64: b64url(bytes(0xa3, 1)),
    clientDataJSON_B64: b64url(bytes(0x7b, 0x7d)),
    transports: ["internal", "hybrid"],
    friendlyName: "Laptop",
  });
});

test("listPasskeys, renamePasskey and removePasskey send the ID token and the credential id", async () => {
  const listed = [{ credentialId: "AQID", friendlyName: "Laptop", createdAt: "2027-01-15T00:00:00Z" }];
  const { keyless, requests } = aPasskeyBrowser({
    answer: (r) => (r.url.endsWith("delete") ? { status: 204 } : { body: r.url.includes("list") ? { authenticators: listed } : {} }),
  });
  assert.deepEqual(await keyless.listPasskeys(), listed);
  await keyless.renamePasskey({ credentialId: "AQID", name: " Work laptop " });
  await keyless.removePasskey({ credentialId: "AQID" });
  assert.deepEqual(
    requests.map((r) => [r.url.slice(MANAGEMENT_API.length), r.body, r.authorization]),
    [
      ["authenticators/list?rpId=app.example.com", undefined, `Bearer ${SIGNED_IN.IdToken}`],
      ["authenticators/update", { credentialId: "AQID", friendlyName: "Work laptop" }, `Bearer ${SIGNED_IN.IdToken}`],
      ["authenticators/delete", { credentialId: "AQID" }, `Bearer ${SIGNED_IN.IdToken}`],
    ],
  );
});

test("signInWithPasskey with an email: round 1's fido2options to the browser, the assertion as the answer", async () => {
  const fido2options = {
    relyingPartyId: "app.example.com",
    challenge: b64url(bytes(8, 8)),
    credentials: [{ id: b64url(bytes(1, 2, 3)), transports: ["internal"] }],
    timeout: 120000,
    userVerification: "required",
  };
  const tokens = { IdToken: fakeJwt({ sign_in_method: "passkey" }), AccessToken: "a", RefreshToken: "r" };
  const { keyless, requests, asked } = aPasskeyBrowser({
    signedIn: false,
    answer: (r) =>
      r.operation === "InitiateAuth"
        ? { body: { Session: "s1", ChallengeParameters: { USERNAME: "7d4e", fido2options: JSON.stringify(fido2options) } } }
        : { body: { AuthenticationResult: tokens } },
    authenticator: { get: async () => anAssertion("7d4e") },
  });
  assert.deepEqual(await keyless.signInWithPasskey({ email: " jane@example.com " }), tokens);
  assert.deepEqual(keyless.tokens, tokens);
  assert.deepEqual(requests[0].body.AuthParameters, { USERNAME: "jane@example.com" });
  const [[, { publicKey }]] = asked;
  assert.equal(publicKey.rpId, "app.example.com");
  assert.deepEqual([...publicKey.challenge], [8, 8]);
  assert.deepEqual([...publicKey.allowCredentials[0].id], [1, 2, 3]);
  assert.equal(publicKey.userVerification, "required");
  const respond = requests[1].body;
  assert.equal(requests[1].operation, "RespondToAuthChallenge");
  assert.deepEqual(
    [respond.Session, respond.ChallengeResponses.USERNAME, respond.ClientMetadata],
    ["s1", "7d4e", { signInMethod: "FIDO2" }],
  );
  assert.deepEqual(JSON.parse(respond.ChallengeResponses.ANSWER), {
    credentialIdB64: b64url(bytes(1, 2, 3)),
    authenticatorDataB64: b64url(bytes(4, 5)),
    clientDataJSON_B64: b64url(new TextEncoder().encode('{"type":"webauthn.get"}')),
    signatureB64: b64url(bytes(6, 7)),
    userHandleB64: b64url(new TextEncoder().encode("7d4e")),
  });
});

test("signInWithPasskey without an email: a challenge without a token, the passkey names the user", async () => {
  const uuid = "6a1c0c9e-5d3e-4b8a-9f00-000000000001";
  for (const [handle, user] of [[`u|${uuid}`, uuid], ["0b7e", "0b7e"]]) {
    const { keyless, requests, asked } = aPasskeyBrowser({
      signedIn: false,
      answer: (r) => {
        if (r.url.endsWith("sign-in-challenge")) {
          return { body: { challenge: b64url(bytes(5)), timeout: 120000, userVerification: "required", relyingPartyId: "app.example.com" } };
        }
        if (r.operation === "InitiateAuth") return { body: { Session: "s", ChallengeParameters: { USERNAME: user } } };
        return { body: { AuthenticationResult: SIGNED_IN } };
      },
      authenticator: { get: async () => anAssertion(handle) },
    });
    await keyless.signInWithPasskey();
    assert.equal(requests[0].url, `${MANAGEMENT_API}sign-in-challenge`);
    assert.equal(requests[0].authorization, undefined);
    assert.deepEqual(asked[0][1].publicKey.allowCredentials, []); // any passkey of this site: discoverable ones answer
    assert.deepEqual(requests[1].body.AuthParameters, { USERNAME: user });
    assert.equal(requests[2].body.ClientMetadata.signInMethod, "FIDO2");
  }
});

test("a passkey whose user handle holds only the sub asks for the email, and nothing reaches Cognito", async () => {
  for (const handle of ["s|0b7e", undefined]) {
    const { keyless, requests } = aPasskeyBrowser({
      signedIn: false,
      answer: () => ({ body: { challenge: b64url(bytes(5)), relyingPartyId: "app.example.com" } }),
      authenticator: { get: async () => anAssertion(handle) },
    });
    const emailNeeded = { type: "EmailNeeded", message: "Type your email address to sign in with this passkey." };
    await assert.rejects(keyless.signInWithPasskey(), emailNeeded);
    assert.equal(requests.filter((r) => r.operation).length, 0);
  }
});

test("what goes wrong is surfaced with a type and words a person can act on", async () => {
  const never = () => assert.fail("nothing should be sent");
  await assert.rejects(aPasskeyBrowser({ answer: never, signedIn: false }).keyless.listPasskeys(), { type: "NotSignedIn" });
  await assert.rejects(aPasskeyBrowser({ answer: never, managementApiUrl: "" }).keyless.listPasskeys(), { type: "Config" });
  for (const name of ["", "   ", "x".repeat(65), undefined]) {
    await assert.rejects(aPasskeyBrowser({ answer: never }).keyless.addPasskey({ name }), { type: "InvalidName" });
  }
  const byStatus = [[400, "BadRequest"], [401, "NotAuthorized"], [403, "SignInAgain"], [404, "NotFound"], [500, "ServerError"]];
  for (const [status, type] of byStatus) {
    const { keyless } = aPasskeyBrowser({ answer: () => ({ status, body: { message: `the API said ${status}` } }) });
    await assert.rejects(keyless.removePasskey({ credentialId: "AQID" }), { type, status, message: `the API said ${status}` });
  }
  const offline = aPasskeyBrowser({ answer: () => ({}) }).keyless;
  offline.fetch = async () => {
    throw new TypeError("fetch failed");
  };
  await assert.rejects(offline.listPasskeys(), { type: "NetworkError" });

  const options = { challenge: "AQ", user: { id: "x" }, rp: { id: "app.example.com" } };
  const refusals = [
    ["NotAllowedError", "PasskeyCancelled"],
    ["InvalidStateError", "PasskeyExists"],
    ["SecurityError", "PasskeyWrongSite"],
    ["NotSupportedError", "PasskeysUnsupported"],
    ["UnknownError", "PasskeyFailed"],
  ];
  for (const [name, type] of refusals) {
    const { keyless, requests } = aPasskeyBrowser({ answer: () => ({ body: options }), authenticator: { create: refusedBy(name) } });
    await assert.rejects(keyless.addPasskey({ name: "Laptop" }), { type });
    assert.equal(requests.length, 1); // the start only: nothing is completed
  }
  const noWebAuthn = aPasskeyBrowser({ answer: () => ({ body: options }) }).keyless;
  noWebAuthn.credentials = undefined;
  await assert.rejects(noWebAuthn.addPasskey({ name: "Laptop" }), { type: "PasskeysUnsupported" });

  const roundOneWithoutPasskeys = { body: { Session: "s", ChallengeParameters: { USERNAME: "u" } } };
  const noPasskeys = aPasskeyBrowser({ signedIn: false, answer: () => roundOneWithoutPasskeys });
  await assert.rejects(noPasskeys.keyless.signInWithPasskey({ email: "jane@example.com" }), { type: "PasskeysOff" });

  const refused = aPasskeyBrowser({
    signedIn: false,
    answer: (r) =>
      r.operation === "InitiateAuth"
        ? { body: { Session: "s", ChallengeParameters: { USERNAME: "u", fido2options: '{"challenge":"AQ","credentials":[]}' } } }
        : { status: 400, body: { __type: "NotAuthorizedException", message: "Incorrect username or password." } },
    authenticator: { get: async () => anAssertion("u") },
  });
  await assert.rejects(refused.keyless.signInWithPasskey({ email: "jane@example.com" }), { type: "NotAuthorizedException" });
  assert.equal(refused.keyless.tokens, null);
});

test("userOfHandle reads Keyless's user handles", () => {
  const of = (text) => userOfHandle(Buffer.from(text).toString("base64url"));
  assert.equal(of("0b7e5b8e-0000-4000-8000-000000000000"), "0b7e5b8e-0000-4000-8000-000000000000");
  assert.equal(of("u|6a1c0c9e-5d3e-4b8a-9f00-000000000001"), "6a1c0c9e-5d3e-4b8a-9f00-000000000001");
  assert.equal(of("s|0b7e"), null);
  assert.equal(of(""), null);
});

// --- authenticator apps, without a browser: what goes over the wire (the real flow, with codes from the
// app's secret, is tests/test_authenticator_apps_browser.py in Chromium against the pool).

const challengeOf = (step, extra = {}) => ({ Session: `session-${step}`, ChallengeParameters: { USERNAME: "u1", step, ...extra } });

test("signInWithAuthenticatorApp: round 1, a round for the app (no email), then the code; a wrong code leaves tries", async () => {
  const rounds = [
    challengeOf("CHOOSE_METHOD", { methods: "MAGIC_LINK,EMAIL_OTP,TOTP" }),
    challengeOf("TOTP", { codeLength: "6", attemptsLeft: "3" }),
    challengeOf("TOTP", { codeLength: "6", attemptsLeft: "2" }),
    { AuthenticationResult: SIGNED_IN },
  ];
  const { keyless, requests } = aPasskeyBrowser({ answer: () => ({ body: rounds.shift() }), signedIn: false });
  assert.deepEqual(await keyless.signInWithAuthenticatorApp({ email: " jane@example.com ", code: "111111" }), {
    signedIn: false,
    attemptsLeft: 2,
  });
  const answer = await keyless.answerAuthenticatorCode(" 222222 ");
  assert.equal(answer.signedIn, true);
  assert.deepEqual(
    requests.map((r) => [r.operation, r.body.ChallengeResponses?.ANSWER, r.body.ClientMetadata?.signInMethod]),
    [["InitiateAuth", undefined, undefined], ["RespondToAuthChallenge", "-", "TOTP"], ["RespondToAuthChallenge", "111111", "TOTP"], ["RespondToAuthChallenge", "222222", "TOTP"]],
  );
  assert.equal(requests[0].body.AuthParameters.USERNAME, "jane@example.com");
});

test("a pool that does not offer the app as a method says so before anything more is sent", async () => {
  const { keyless, requests } = aPasskeyBrowser({ answer: () => ({ body: challengeOf("CHOOSE_METHOD", { methods: "MAGIC_LINK" }) }) });
  await assert.rejects(keyless.signInWithAuthenticatorApp({ email: "jane@example.com", code: "123456" }), { type: "AuthenticatorAppsOff" });
  assert.equal(requests.length, 1);
  await assert.rejects(keyless.answerAuthenticatorCode("123456"), { type: "NoSignIn" });
});

test("with the second step, a right email code asks for the app's code, and tokens come after it", async () => {
  const rounds = [
    challengeOf("CHOOSE_METHOD", { methods: "MAGIC_LINK,EMAIL_OTP" }),
    challengeOf("EMAIL_OTP", { sentTo: "j***@e***.com", expiresAt: "2027-01-15T00:10:00Z", codeLength: "6", attemptsLeft: "3" }),
    challengeOf("TOTP_STEP_UP", { codeLength: "6", attemptsLeft: "3" }),
    { AuthenticationResult: SIGNED_IN },
  ];
  const { keyless, requests } = aPasskeyBrowser({ answer: () => ({ body: rounds.shift() }), signedIn: false });
  await keyless.requestCode("jane@example.com");
  assert.deepEqual(await keyless.answerCode("123456"), { signedIn: false, secondStep: true, attemptsLeft: 3 });
  assert.equal(keyless.secondStepPending, true);
  assert.equal((await keyless.answerAuthenticatorCode("654321")).signedIn, true);
  assert.equal(requests.at(-1).body.ChallengeResponses.ANSWER, "654321");
  assert.equal(keyless.secondStepPending, false);
});

test("with the second step, a redeemed link asks for the app's code (SecondStepNeeded)", async () => {
  const rounds = [challengeOf("CHOOSE_METHOD", { methods: "MAGIC_LINK" }), challengeOf("TOTP_STEP_UP", { attemptsLeft: "3" })];
  const { keyless } = aPasskeyBrowser({ answer: () => ({ body: rounds.shift() }), signedIn: false });
  const payload = Buffer.from(JSON.stringify({ userName: "u1", s: "sub", p: "us-east-1_Pool", c: CLIENT, exp: 4e9 })).toString("base64url");
  const landing = keyless.openLink(`https://app.example.com/#${payload}.signature`);
  await assert.rejects(landing.redeem(), { type: "SecondStepNeeded" });
  assert.equal(keyless.secondStepPending, true);
});

test("setting an app up, confirming and removing it send the ID token to the management API", async () => {
  const setup = { secret: "JBSWY3DPEHPK3PXP", otpauthUri: "otpauth://totp/App:jane?secret=JBSWY3DPEHPK3PXP", qrCodeSvg: "<svg/>" };
  const answers = { start: setup, confirm: { status: "active" }, remove: { removed: true }, status: { status: "active" } };
  const { keyless, requests } = aPasskeyBrowser({ answer: (r) => ({ body: answers[r.url.split("/").pop()] }) });
  assert.deepEqual(await keyless.startAuthenticatorApp(), setup);
  assert.deepEqual(await keyless.confirmAuthenticatorApp({ code: " 123456 " }), { status: "active" });
  assert.deepEqual(await keyless.authenticatorAppStatus(), { status: "active" });
  assert.deepEqual(await keyless.removeAuthenticatorApp(), { removed: true });
  assert.deepEqual(
    requests.map((r) => [r.url, r.authorization, r.body]),
    [
      [`${MANAGEMENT_API}authenticator-app/start`, `Bearer ${SIGNED_IN.IdToken}`, {}],
      [`${MANAGEMENT_API}authenticator-app/confirm`, `Bearer ${SIGNED_IN.IdToken}`, { code: "123456" }],
      [`${MANAGEMENT_API}authenticator-app/status`, `Bearer ${SIGNED_IN.IdToken}`, {}],
      [`${MANAGEMENT_API}authenticator-app/remove`, `Bearer ${SIGNED_IN.IdToken}`, {}],
    ],
  );
  const stale = aPasskeyBrowser({ answer: () => ({ status: 403, body: { message: "Sign in again to do this" } }) });
  await assert.rejects(stale.keyless.startAuthenticatorApp(), { type: "SignInAgain", status: 403, message: "Sign in again to do this" });
});
