// The README's Amplify JS v6 recipe, run as written against a served local user pool (started by
// tests/test_client_kits.py, which passes its address, app client and pool id in the environment).
// Amplify's own code, pinned in package.json; only `userPoolEndpoint` points it at the local pool.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Amplify } from "aws-amplify";
import { confirmSignIn, fetchAuthSession, signIn, signOut } from "aws-amplify/auth";

const { KEYLESS_POOL_URL: poolUrl, KEYLESS_CLIENT_ID: userPoolClientId, KEYLESS_POOL_ID: userPoolId } = process.env;
const page = `${poolUrl}/`;

Amplify.configure({ Auth: { Cognito: { userPoolId, userPoolClientId, userPoolEndpoint: page } } });

async function signUp(email) {
  const response = await fetch(page, {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSCognitoIdentityProviderService.SignUp" },
    body: JSON.stringify({ ClientId: userPoolClientId, Username: email, Password: "Aa1-" + crypto.randomUUID(), UserAttributes: [{ Name: "email", Value: email }] }),
  });
  assert.equal(response.status, 200, await response.text());
}

async function newestMailTo(address) {
  const response = await fetch(`${poolUrl}/mailbox`, { headers: { Accept: "application/json" } });
  return (await response.json()).find((mail) => mail.to.includes(address)).text;
}

// --- the recipe (README, "Amplify JS v6") -------------------------------------------------------------

async function askForCode(email) {
  const started = await signIn({ username: email, options: { authFlowType: "CUSTOM_WITHOUT_SRP" } });
  // Round 1 offers the methods; the answer to it names one (Cognito passes signIn's clientMetadata to
  // no challenge trigger, so it goes with confirmSignIn).
  return confirmSignIn({ challengeResponse: "-", options: { clientMetadata: { signInMethod: "EMAIL_OTP" } } }).then(
    (sent) => ({ started, sent }),
  );
}

async function askForLink(email, redirectUri) {
  await signIn({ username: email, options: { authFlowType: "CUSTOM_WITHOUT_SRP" } });
  return confirmSignIn({ challengeResponse: "-", options: { clientMetadata: { signInMethod: "MAGIC_LINK", redirectUri } } });
}

const answerCode = (code) => confirmSignIn({ challengeResponse: code, options: { clientMetadata: { signInMethod: "EMAIL_OTP" } } });

async function signInWithLink(href) {
  const secret = decodeURIComponent(new URL(href).hash.slice(1));
  const payload = JSON.parse(Buffer.from(secret.split(".")[0], "base64url").toString()); // the browser: atob
  await signIn({ username: payload.userName, options: { authFlowType: "CUSTOM_WITHOUT_SRP" } });
  return confirmSignIn({
    challengeResponse: secret,
    options: { clientMetadata: { signInMethod: "MAGIC_LINK", alreadyHaveMagicLink: "yes" } },
  });
}

// -------------------------------------------------------------------------------------------------------

test("signs in with an email code", async () => {
  const email = "amplify-code@example.com";
  await signUp(email);
  const { started, sent } = await askForCode(email);
  assert.equal(started.nextStep.signInStep, "CONFIRM_SIGN_IN_WITH_CUSTOM_CHALLENGE");
  assert.equal(started.nextStep.additionalInfo.step, "CHOOSE_METHOD");
  assert.equal(sent.nextStep.additionalInfo.step, "EMAIL_OTP");
  const code = /^\s*(\d{6,8})\s*$/m.exec(await newestMailTo(email))[1];
  const done = await answerCode(code);
  assert.equal(done.isSignedIn, true);
  const session = await fetchAuthSession();
  assert.equal(session.tokens.idToken.payload.email, email);
  await signOut();
});

test("signs in with a magic link (opened in a fresh sign-in)", async () => {
  const email = "amplify-link@example.com";
  await signUp(email);
  const sent = await askForLink(email, page);
  assert.equal(sent.nextStep.additionalInfo.sentTo, "a***@e***.com");
  const link = /(https?:\/\/\S+#\S+)/.exec(await newestMailTo(email))[1];
  const done = await signInWithLink(link);
  assert.equal(done.isSignedIn, true);
  assert.equal((await fetchAuthSession()).tokens.idToken.payload.email, email);
  await signOut();
});
