// An app built on AWS's passwordless client library (amazon-cognito-passwordless-auth, pinned in
// package.json), pointed at a user pool that runs Keyless: only its configuration differs from an app
// on AWS's own sample backend. Run by tests/test_client_kits.py against a served local user pool (its
// address, app client and pool id in the environment).
import assert from "node:assert/strict";
import { test } from "node:test";

import { Passwordless } from "amazon-cognito-passwordless-auth";
import { requestSignInLink, signInWithLink } from "amazon-cognito-passwordless-auth/magic-link";

const { KEYLESS_POOL_URL: poolUrl, KEYLESS_CLIENT_ID: clientId, KEYLESS_POOL_ID: userPoolId } = process.env;
const page = `${poolUrl}/`;
const [sameBrowserUser, otherBrowserUser] = ["aws-lib-1@example.com", "aws-lib-2@example.com"];

// The users, signed up as a passwordless app does (the pool confirms them at once).
test.before(async () => {
  for (const email of [sameBrowserUser, otherBrowserUser]) {
    const response = await fetch(page, {
      method: "POST",
      headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSCognitoIdentityProviderService.SignUp" },
      body: JSON.stringify({
        ClientId: clientId,
        Username: email,
        Password: "Aa1-" + crypto.randomUUID(),
        UserAttributes: [{ Name: "email", Value: email }],
      }),
    });
    assert.equal(response.status, 200, await response.text());
  }
});

class MemoryStorage {
  #items = new Map();
  getItem(key) {
    return this.#items.get(key) ?? null;
  }
  setItem(key, value) {
    this.#items.set(key, value);
  }
  removeItem(key) {
    this.#items.delete(key);
  }
}

// What the library reads from a browser: its address, history and storage.
function aBrowser() {
  const location = { href: page };
  const history = { pushState: (_state, _title, url) => (location.href = url) };
  return { location, history, storage: new MemoryStorage() };
}

// The app's configuration: the only thing an app changes to use Keyless.
function use(browser) {
  Passwordless.configure({ clientId, userPoolId, cognitoIdpEndpoint: page, ...browser });
}

async function newestLinkTo(address) {
  const response = await fetch(`${poolUrl}/mailbox`, { headers: { Accept: "application/json" } });
  const mail = (await response.json()).find((m) => m.to.includes(address));
  return /(https?:\/\/\S+#\S+)/.exec(mail.text)[1];
}

async function signInWithTheLink(browser) {
  const statuses = [];
  const tokens = await signInWithLink({ statusCb: (s) => statuses.push(s), tokensCb: async () => {} }).signedIn;
  return { tokens, statuses };
}

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
}

test("asks for a link, and signs in with it in the same browser (the library's stored session)", async () => {
  const browser = aBrowser();
  use(browser);
  await requestSignInLink({ username: sameBrowserUser, redirectUri: page }).signInLinkRequested;
  browser.location.href = await newestLinkTo(sameBrowserUser);
  const { tokens, statuses } = await signInWithTheLink(browser);
  assert.deepEqual(statuses, ["SIGNING_IN_WITH_LINK", "SIGNED_IN_WITH_LINK"]);
  assert.equal(claims(tokens.idToken).email, sameBrowserUser);
  assert.equal(claims(tokens.idToken).email_verified, true);
  assert.equal(browser.location.href, page); // the secret left the address
});

test("signs in with a link opened in another browser (a fresh session)", async () => {
  use(aBrowser());
  await requestSignInLink({ username: otherBrowserUser, redirectUri: page }).signInLinkRequested;
  const other = aBrowser();
  use(other);
  other.location.href = await newestLinkTo(otherBrowserUser);
  const { tokens, statuses } = await signInWithTheLink(other);
  assert.deepEqual(statuses, ["SIGNING_IN_WITH_LINK", "SIGNED_IN_WITH_LINK"]);
  assert.equal(claims(tokens.idToken).email, otherBrowserUser);

  // The link works once: opened again, the library reports it as expired, as on AWS's sample.
  other.location.href = await newestLinkTo(otherBrowserUser);
  const again = await signInWithTheLink(other);
  assert.equal(again.tokens, undefined);
  assert.deepEqual(again.statuses, ["SIGNING_IN_WITH_LINK", "SIGNIN_LINK_EXPIRED"]);
});
