// Keyless demo sign-in page, built only on the web kit (clients/web/keyless.js, served here as
// /static/keyless.js): no SDK and no build step.
//
// Mail scanners open every link in an email before the person does, and some run its JavaScript. So
// an opened link is redeemed only on the person's click ("Sign in as j***@e***.com"), never on load,
// focus or a timer; except in the very browser that asked for it, which proves so with a device
// secret kept in localStorage (only its hash went out with the request) and is signed in at once.
import { CLIENT_ID, Keyless, REGION, claimsOf, readLink } from "./keyless.js";

const STANDARD_CLAIMS = new Set([
  "sub", "iss", "aud", "client_id", "token_use", "auth_time", "exp", "iat", "nbf", "jti", "origin_jti", "event_id",
  "username", "cognito:username", "cognito:groups", "cognito:roles", "cognito:preferred_role", "email", "email_verified",
  "phone_number", "phone_number_verified", "scope", "version", "name", "given_name", "family_name", "locale",
]);

let config = null; // {endpoint, region, clientId, local, userPoolId, managementApiUrl}
let keyless = null; // the web kit, talking to the pool and app client of `config`
let pendingEmail = "";

class ConfigError extends Error {
  constructor(message) {
    super(message);
    this.type = "Config";
  }
}

const connect = (target) =>
  new Keyless({ endpoint: target.endpoint, clientId: target.clientId, managementApiUrl: target.managementApiUrl });

const $ = (id) => document.getElementById(id);

// --- talking to Cognito -------------------------------------------------------------------------

// forLink: a link names its own user pool and app client (redeemAt), and whoever asked for it chose
// this page's address, query included: the query is not read, so no query can stop a link working.
async function loadConfig(forLink) {
  const query = new URLSearchParams(forLink ? "" : location.search);
  const region = query.get("region");
  const clientId = query.get("clientId");
  const managementApiUrl = query.get("managementApiUrl") || undefined;
  if (region || clientId) {
    if (!REGION.test(region || "") || !CLIENT_ID.test(clientId || "")) {
      throw new ConfigError("Give both region (e.g. eu-west-1) and clientId (the app client id) in the address.");
    }
    if (managementApiUrl && !/^https:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(managementApiUrl)) {
      throw new ConfigError("managementApiUrl is the stack's ManagementApiUrl output (https://...).");
    }
    return { endpoint: `https://cognito-idp.${region}.amazonaws.com/`, region, clientId, managementApiUrl, local: false };
  }
  const response = await fetch("/local-pool.json", { cache: "no-store" }).catch(() => null);
  if (!response || !response.ok) {
    if (forLink) return { local: false };
    throw new ConfigError("This page needs the local user pool (make dev), or ?region=...&clientId=...");
  }
  return { ...(await response.json()), local: true };
}

// --- what the user sees --------------------------------------------------------------------------

const SECTIONS = ["start", "confirm", "land", "link-sent", "code", "second-step", "working", "signed-in"];

function show(section) {
  for (const id of SECTIONS) $(id).hidden = id !== section;
}

function say(text, kind = "error") {
  const box = $("message");
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = !text;
}

function working(text) {
  say("");
  $("working-text").textContent = text;
  show("working");
}

function time(iso) {
  const when = new Date(iso);
  return isNaN(when) ? "soon" : when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// Every error a user can meet, in their words.
function explain(error, during) {
  const message = error.message || "";
  const wait = /Please wait (\d+) seconds/.exec(message);
  if (wait) return `Too many requests: please wait ${wait[1]} seconds before asking for another email.`;
  switch (error.type) {
    case "NotAuthorizedException":
      if (/session/i.test(message)) return "This sign-in took too long. Please start again.";
      if (/disabled/i.test(message)) return "This account is disabled.";
      if (during === "link") {
        // Enumeration-safe: the same words whatever the reason, and none of them needs the server's.
        return "This link no longer works: it was used already (perhaps by a mail scanner), a newer email replaced it, or this browser is not the one that asked for it. Use the newest email, or ask for a new link below.";
      }
      if (during === "code") return "Too many wrong codes, or the code expired. Ask for a new one.";
      if (during === "app") return "Too many wrong codes. Start again, or sign in with an email link or code.";
      if (during === "passkey") {
        return (
          "This passkey was not accepted: it may have been removed, or be for another account. " +
          "Sign in with an email link or code instead."
        );
      }
      return "Sign-in failed. Please start again.";
    case "UserNotConfirmedException":
      return "This account is not confirmed yet.";
    case "UsernameExistsException":
      return "An account with this email already exists: sign in instead.";
    case "InvalidPasswordException":
    case "InvalidParameterException":
      return /email|username/i.test(message) ? "Please type a valid email address." : message;
    case "UserLambdaValidationException":
      return message.replace(/^\w+ failed with error /, "").replace(/\.+$/, ".");
    case "TooManyRequestsException":
    case "LimitExceededException":
      return "Too many requests: please wait a minute and try again.";
    case "SignInAgain":
      return during === "authenticator"
        ? "Setting up or removing an authenticator app needs a recent sign-in: sign out, sign in again, then try again."
        : "Adding a passkey needs a recent sign-in: sign out, sign in again, then add it.";
    case "NotAuthorized":
      return "Your session has ended. Please sign in again.";
    default:
      return message || "Something went wrong. Please try again.";
  }
}

function restart(text = "", kind = "error") {
  if (keyless) keyless.challenge = null; // whatever sign-in was under way is over
  show("start");
  say(text, kind);
}

// --- flows ---------------------------------------------------------------------------------------------

async function askFor(method) {
  const email = $("email").value.trim();
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return say("Please type a valid email address.");
  working(method === "MAGIC_LINK" ? "Sending your link..." : "Sending your code...");
  try {
    const page = location.origin + location.pathname + location.search;
    const sent = method === "MAGIC_LINK" ? await keyless.requestLink(email, page) : await keyless.requestCode(email);
    say("");
    if (method === "MAGIC_LINK") {
      // The link's email also carries a code when this window may type one: the way in here when a
      // mail scanner has used the link up.
      $("link-to").textContent = sent.sentTo;
      $("link-expires").textContent = time(sent.expiresAt);
      $("link-code-form").hidden = !sent.codeAccepted;
      $("link-sent-actions").hidden = sent.codeAccepted;
      $("link-code-input").value = "";
      show("link-sent");
    } else {
      $("code-to").textContent = sent.sentTo;
      $("code-expires").textContent = time(sent.expiresAt);
      $("code-length").textContent = String(sent.codeLength || 6);
      $("code-input").value = "";
      show("code");
      $("code-input").focus();
    }
  } catch (error) {
    restart(explain(error, "request"));
  }
}

async function submitCode(input = "code-input", button = "submit-code") {
  const code = $(input).value.trim();
  if (!code) return say("Type the code from the email.");
  $(button).disabled = true;
  try {
    const answer = await keyless.answerCode(code);
    if (answer.signedIn) return signedIn();
    if (answer.secondStep) return askSecondStep();
    const left = answer.attemptsLeft;
    say(`That code is not right (or has expired). ${left} ${left === 1 ? "attempt" : "attempts"} left.`);
    $(input).select();
  } catch (error) {
    restart(explain(error, "code"));
  } finally {
    $(button).disabled = false;
  }
}

// Where a link is redeemed is what the link says (its user pool and app client, signed by Keyless),
// never what this page's own address says: whoever asked for the link chose that address, and could
// have pointed it at a user pool of their own, whose triggers would see the link's secret.
function redeemAt(link) {
  if (config.local) return link.p === config.userPoolId && link.c === config.clientId ? config : null;
  const region = link.p.split("_")[0];
  if (!REGION.test(region) || !CLIENT_ID.test(link.c)) return null;
  return { endpoint: `https://cognito-idp.${region}.amazonaws.com/`, region, clientId: link.c, local: false };
}

// Opening a link only reads it: nothing is sent anywhere until redeem, which runs at once only in
// the browser that asked for the link, and otherwise only on the person's click.
function landFromLink() {
  const href = location.href;
  // The secret never reaches a server log or the Referer: it is in the fragment; drop it at once.
  history.replaceState(null, "", location.pathname + location.search);
  let link;
  try {
    link = readLink(decodeURIComponent(new URL(href).hash.slice(1)));
  } catch (error) {
    return restart(error.message);
  }
  const target = redeemAt(link);
  if (!target) return restart("This link is for another user pool than this page's. Open it from the app that sent it.");
  config = target;
  keyless = connect(target);
  describeTarget();
  const landing = keyless.openLink(href);
  if (landing.expired) return restart("This link has expired: links work for a short while only. Ask for a new one below.");
  if (landing.fromThisBrowser) return redeem(landing);
  $("land-who").textContent = landing.who;
  $("land-confirm").onclick = () => redeem(landing);
  say("");
  show("land");
  $("land-confirm").focus();
}

async function redeem(landing) {
  working("Signing you in with your link...");
  try {
    await landing.redeem();
    signedIn();
  } catch (error) {
    if (error.type === "SecondStepNeeded") return askSecondStep();
    restart(explain(error, "link"));
  }
}

// --- authenticator apps ------------------------------------------------------------------------------

// The email proof was right, and this user's authenticator app must confirm it (AuthenticatorAppSecondStep).
function askSecondStep() {
  say("");
  $("second-step-code").value = "";
  show("second-step");
  $("second-step-code").focus();
}

// Answers a round asking for the app's code: the second step's, or (after a wrong code) the sign-in's
// with the app. Returns whether the person is signed in.
async function answerAppCode(input, button) {
  const code = $(input).value.trim();
  if (!/^\d{6}$/.test(code)) {
    say("Type the 6 digits your authenticator app shows.");
    return false;
  }
  $(button).disabled = true;
  try {
    const answer = await keyless.answerAuthenticatorCode(code);
    if (answer.signedIn) {
      signedIn();
      return true;
    }
    const left = answer.attemptsLeft;
    say(`That code is not right. ${left} ${left === 1 ? "attempt" : "attempts"} left.`);
    $(input).select();
  } catch (error) {
    restart(explain(error, "app"));
  } finally {
    $(button).disabled = false;
  }
  return false;
}

async function appSignIn() {
  if (keyless.challenge?.ChallengeParameters?.step === "TOTP") return answerAppCode("totp-code", "totp-sign-in");
  const email = $("email").value.trim();
  const code = $("totp-code").value.trim();
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return say("Please type your email address above.");
  if (!/^\d{6}$/.test(code)) return say("Type the 6 digits your authenticator app shows.");
  $("totp-sign-in").disabled = true;
  try {
    const answer = await keyless.signInWithAuthenticatorApp({ email, code });
    if (answer.signedIn) return signedIn();
    const left = answer.attemptsLeft;
    say(`That code is not right. ${left} ${left === 1 ? "attempt" : "attempts"} left.`);
    $("totp-code").select();
  } catch (error) {
    restart(explain(error, "app"));
  } finally {
    $("totp-sign-in").disabled = false;
  }
}

async function showAuthenticator() {
  let found;
  try {
    found = await keyless.authenticatorAppStatus();
  } catch (error) {
    $("authenticator").hidden = true; // this pool's API has no authenticator apps (404), or it is not reachable
    if (error.type !== "NotFound") say(explain(error, "authenticator"));
    return;
  }
  $("authenticator").hidden = false;
  const active = found.status === "active";
  $("authenticator-status").textContent = active
    ? `Set up${found.confirmedAt ? ` on ${when(found.confirmedAt)}` : ""}: sign in with its codes, no email needed.`
    : found.status === "pending"
      ? "Not confirmed yet: type the first code the app shows (set up again for a new key)."
      : "None yet: set one up to sign in with its codes.";
  $("authenticator-setup").hidden = active;
  $("authenticator-remove").hidden = found.status === "none";
  if (active) $("authenticator-new").hidden = true;
}

async function setUpAuthenticator() {
  $("authenticator-setup").disabled = true;
  try {
    const setup = await keyless.startAuthenticatorApp();
    // An image, not markup: nothing the API sends can run in this page.
    $("authenticator-qr").src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(setup.qrCodeSvg);
    $("authenticator-secret").textContent = setup.secret.replace(/(.{4})/g, "$1 ").trim();
    $("authenticator-code").value = "";
    $("authenticator-new").hidden = false;
    say("");
    $("authenticator-code").focus();
    await showAuthenticator();
  } catch (error) {
    say(explain(error, "authenticator"));
  } finally {
    $("authenticator-setup").disabled = false;
  }
}

async function confirmAuthenticator() {
  const code = $("authenticator-code").value.trim();
  if (!/^\d{6}$/.test(code)) return say("Type the 6 digits your authenticator app shows.");
  try {
    await keyless.confirmAuthenticatorApp({ code });
    $("authenticator-new").hidden = true;
    say("Authenticator app set up: next time, sign in with one of its codes.", "ok");
    await showAuthenticator();
  } catch (error) {
    say(explain(error, "authenticator"));
    $("authenticator-code").select();
  }
}

async function removeAuthenticator() {
  try {
    await keyless.removeAuthenticatorApp();
    $("authenticator-new").hidden = true;
    say("Authenticator app removed: its codes no longer sign in.", "ok");
    await showAuthenticator();
  } catch (error) {
    say(explain(error, "authenticator"));
  }
}

async function signUp() {
  const email = $("email").value.trim();
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return say("Please type a valid email address.");
  working("Creating your account...");
  try {
    const created = await keyless.signUp(email);
    if (created.confirmed) return restart("Account created. Now ask for a link or a code.", "ok");
    if (created.destination) {
      pendingEmail = email;
      $("confirm-to").textContent = created.destination;
      say("");
      return show("confirm");
    }
    restart("Account created, but this pool does not confirm sign-ups by itself: an administrator must confirm it.", "info");
  } catch (error) {
    restart(explain(error, "signup"));
  }
}

async function confirmSignUp() {
  try {
    await keyless.confirmSignUp(pendingEmail, $("confirm-code").value);
    restart("Address confirmed. Now ask for a link or a code.", "ok");
  } catch (error) {
    say(error.type === "CodeMismatchException" ? "That confirmation code is not right." : explain(error, "confirm"));
  }
}

function fillClaims(tableId, claims) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren();
  for (const [name, value] of Object.entries(claims).sort(([a], [b]) => a.localeCompare(b))) {
    const row = body.insertRow();
    const nameCell = row.insertCell();
    nameCell.textContent = name;
    if (!STANDARD_CLAIMS.has(name)) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "added";
      nameCell.append(" ", badge);
    }
    let shown = typeof value === "string" ? value : JSON.stringify(value);
    if (["exp", "iat", "auth_time"].includes(name) && typeof value === "number") shown += `  (${new Date(value * 1000).toLocaleString()})`;
    row.insertCell().textContent = shown;
  }
}

function signedIn() {
  const tokens = keyless.tokens;
  const id = claimsOf(tokens.IdToken);
  $("who").textContent = id.email || id["cognito:username"] || id.sub;
  fillClaims("id-claims", id);
  fillClaims("access-claims", claimsOf(tokens.AccessToken));
  say("");
  show("signed-in");
  $("passkeys").hidden = !passkeysHere();
  $("passkey-list").replaceChildren(); // another sign-in's list never shows while this one's loads
  $("passkeys-empty").hidden = true;
  if (passkeysHere()) showPasskeys();
  $("authenticator").hidden = true;
  $("authenticator-new").hidden = true;
  if (config?.managementApiUrl) showAuthenticator();
}

// --- passkeys --------------------------------------------------------------------------------------------

// Passkeys need the management API, WebAuthn, a secure context, and a host name (browsers refuse them
// on an IP address: the local pool's page works at http://localhost:<port>/).
function passkeysHere() {
  const ipAddress = /^[\d.]+$|:/.test(location.hostname);
  return Boolean(config?.managementApiUrl && window.PublicKeyCredential && window.isSecureContext && !ipAddress);
}

async function passkeySignIn() {
  const email = $("email").value.trim();
  if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return say("Please type a valid email address.");
  working("Waiting for your passkey...");
  try {
    await keyless.signInWithPasskey(email ? { email } : {});
    signedIn();
  } catch (error) {
    restart(explain(error, "passkey"));
    if (error.type === "EmailNeeded") $("email").focus();
  }
}

function when(iso) {
  const at = new Date(iso);
  return isNaN(at) ? "" : at.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

async function showPasskeys() {
  try {
    const passkeys = await keyless.listPasskeys();
    const list = $("passkey-list");
    list.replaceChildren(...passkeys.map(passkeyItem));
    $("passkeys-empty").hidden = passkeys.length > 0;
  } catch (error) {
    say(explain(error, "passkeys"));
  }
}

function button(text, label, onClick, kind = "secondary") {
  const made = document.createElement("button");
  made.type = "button";
  made.className = kind;
  made.textContent = text;
  made.setAttribute("aria-label", label);
  made.addEventListener("click", onClick);
  return made;
}

function passkeyItem(passkey) {
  const item = document.createElement("li");
  item.className = "passkey";
  item.dataset.credentialId = passkey.credentialId;
  const name = document.createElement("span");
  name.className = "passkey-name";
  name.textContent = passkey.friendlyName;
  const about = document.createElement("span");
  about.className = "hint";
  const used = passkey.lastSignIn ? `, last used ${when(passkey.lastSignIn)}` : ", not used yet";
  about.textContent = `added ${when(passkey.createdAt)}${used}`;
  const actions = document.createElement("span");
  actions.className = "actions";
  actions.append(
    button("Rename", `Rename ${passkey.friendlyName}`, () => renameForm(item, passkey)),
    button("Remove", `Remove ${passkey.friendlyName}`, () => removePasskey(passkey)),
  );
  item.append(name, about, actions);
  return item;
}

function renameForm(item, passkey) {
  const form = document.createElement("form");
  form.className = "rename";
  form.noValidate = true;
  const label = document.createElement("label");
  label.htmlFor = `rename-${passkey.credentialId}`;
  label.textContent = `New name for ${passkey.friendlyName}`;
  const input = document.createElement("input");
  input.id = label.htmlFor;
  input.maxLength = 64;
  input.value = passkey.friendlyName;
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Save";
  const actions = document.createElement("span");
  actions.className = "actions";
  actions.append(save, button("Cancel", "Cancel renaming", () => showPasskeys()));
  form.append(label, input, actions);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await keyless.renamePasskey({ credentialId: passkey.credentialId, name: input.value });
      await showPasskeys();
      say("Passkey renamed.", "ok");
    } catch (error) {
      say(explain(error, "passkeys"));
    }
  });
  item.replaceChildren(form);
  input.select();
}

async function removePasskey(passkey) {
  try {
    await keyless.removePasskey({ credentialId: passkey.credentialId });
    await showPasskeys();
    say(`Passkey "${passkey.friendlyName}" removed: it no longer signs in.`, "ok");
  } catch (error) {
    say(explain(error, "passkeys"));
  }
}

async function addPasskey() {
  const name = $("passkey-name").value.trim();
  if (!name) return say("Give the new passkey a name (e.g. Work laptop).");
  $("add-passkey").disabled = true;
  try {
    await keyless.addPasskey({ name });
    $("passkey-name").value = "";
    await showPasskeys();
    say("Passkey added: next time, sign in with it.", "ok");
  } catch (error) {
    say(explain(error, "add-passkey"));
  } finally {
    $("add-passkey").disabled = false;
  }
}

async function refresh() {
  try {
    await keyless.refresh();
    signedIn();
    say("Tokens refreshed.", "ok");
  } catch (error) {
    await keyless.signOut();
    restart(error.type === "NotAuthorizedException" ? "Your session has ended. Please sign in again." : explain(error, "refresh"));
  }
}

async function signOut() {
  await keyless.signOut(); // the tokens are forgotten whatever Cognito answers
  restart("You are signed out.", "ok");
}

// --- wiring ----------------------------------------------------------------------------------------------

function describeTarget() {
  $("target").textContent = config.local
    ? `Local user pool ${config.userPoolId} at ${config.endpoint}`
    : `Amazon Cognito, ${config.region}, app client ${config.clientId}`;
}

/** Run `handler` when the form is submitted, instead of the browser's own submission. */
function onSubmit(id, handler) {
  $(id).addEventListener("submit", (event) => {
    event.preventDefault();
    handler(event);
  });
}

async function main() {
  const secret = location.hash.slice(1);
  try {
    config = await loadConfig(Boolean(secret));
  } catch (error) {
    $("target").textContent = "Not connected";
    return say(error.message);
  }
  if (config.region || config.local) {
    keyless = connect(config);
    describeTarget();
  }
  for (const hint of document.querySelectorAll(".local-only")) hint.hidden = !config.local;
  $("passkey-start").hidden = !passkeysHere();
  $("totp-form").hidden = !config.managementApiUrl;
  if (config.local && config.managementApiUrl && !passkeysHere() && location.hostname === "127.0.0.1") {
    const there = `${location.protocol}//localhost:${location.port}${location.pathname}`;
    $("passkey-elsewhere-link").href = there;
    $("passkey-elsewhere-link").textContent = there;
    $("passkey-elsewhere").hidden = false;
  }

  onSubmit("email-form", (event) =>
    askFor(event.submitter && event.submitter.dataset.method === "EMAIL_OTP" ? "EMAIL_OTP" : "MAGIC_LINK"),
  );
  $("sign-up").addEventListener("click", signUp);
  onSubmit("code-form", () => submitCode());
  onSubmit("link-code-form", () => submitCode("link-code-input", "submit-link-code"));
  onSubmit("confirm-form", () => confirmSignUp());
  for (const button of document.querySelectorAll(".restart")) button.addEventListener("click", () => restart());
  $("passkey-sign-in").addEventListener("click", passkeySignIn);
  onSubmit("totp-form", () => appSignIn());
  onSubmit("second-step-form", () => answerAppCode("second-step-code", "submit-second-step"));
  $("authenticator-setup").addEventListener("click", setUpAuthenticator);
  onSubmit("authenticator-confirm-form", () => confirmAuthenticator());
  $("authenticator-remove").addEventListener("click", removeAuthenticator);
  onSubmit("add-passkey-form", () => addPasskey());
  $("refresh").addEventListener("click", refresh);
  $("sign-out").addEventListener("click", signOut);

  // A link opened in this very tab changes only the fragment: no new page load.
  window.addEventListener("hashchange", () => {
    if (location.hash.length > 1) landFromLink();
  });
  if (secret) return landFromLink();
  show("start");
}

main();
