// The web kit against a served local user pool (tests/test_client_kits.py starts it and passes its
// address, app client and pool id in the environment). Each browser is a Keyless object with its own
// storage, as two browsers' localStorage are.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Keyless, KeylessError, claimsOf, memoryStorage, readLink } from "./keyless.js";

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
