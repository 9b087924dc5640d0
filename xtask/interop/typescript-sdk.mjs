// Kinde's TypeScript SDK, unchanged, signing users in to the emulator over HTTPS: configured
// only by the emulator's env file in the environment (KINDE_DOMAIN, KINDE_CLIENT_ID,
// KINDE_CLIENT_SECRET, NODE_EXTRA_CA_CERTS), `createKindeServerClient(GrantType.AUTHORIZATION_CODE,
// {...})` as its documentation shows. The browser's part is played with plain form posts (the
// sign-in and registration pages need no script): login() → sign-in page → callback →
// handleRedirectToApp() → getUser() / getToken() / getClaim('org_code'); then register() and
// createOrg() through the registration page.
// Usage: node typescript-sdk.mjs
import { createKindeServerClient, GrantType } from "@kinde-oss/kinde-typescript-sdk";

// The web app's callback and logout URLs as the emulator seeds them (an app passes its own).
const client = createKindeServerClient(GrantType.AUTHORIZATION_CODE, {
  authDomain: process.env.KINDE_DOMAIN,
  clientId: process.env.KINDE_CLIENT_ID,
  clientSecret: process.env.KINDE_CLIENT_SECRET,
  redirectURL: "http://localhost:3000/api/auth/kinde_callback",
  logoutRedirectURL: "http://localhost:3000",
});

// The SDK's SessionManager contract, in memory: one per signed-in browser.
const sessionManager = () => {
  const items = new Map();
  return {
    getSessionItem: async (key) => items.get(key) ?? null,
    setSessionItem: async (key, value) => void items.set(key, value),
    removeSessionItem: async (key) => void items.delete(key),
    destroySession: async () => items.clear(),
  };
};

const failures = [];
const check = (what, ok, detail) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${ok ? "" : `: ${JSON.stringify(detail)}`}`);
  if (!ok) failures.push(what);
};

// The page at `url` and its form's hidden request id.
const open = async (url) => {
  const res = await fetch(url, { redirect: "manual" });
  const html = await res.text();
  const request = html.match(/name="request" value="([0-9a-f]+)"/)?.[1];
  return { status: res.status, html, request };
};

// Post a form as a browser does, returning where the emulator sends the browser next.
const post = async (path, fields) => {
  const res = await fetch(new URL(path, process.env.KINDE_DOMAIN), {
    method: "POST",
    body: new URLSearchParams(fields),
    redirect: "manual",
  });
  return res.headers.get("location");
};

// Each flow stops at its first broken step (the others still run).
const flow = async (name, steps) => {
  try {
    await steps();
  } catch (e) {
    check(`${name} completes`, false, String(e));
  }
};

// login(): the sign-in page, alice picked, the callback handled by the SDK.
await flow("login()", async () => {
  const session = sessionManager();
  const loginURL = await client.login(session);
  check("login() points at the emulator's /oauth2/auth", loginURL.href.startsWith(`${process.env.KINDE_DOMAIN}/oauth2/auth?`), loginURL.href);
  const page = await open(loginURL);
  check("the sign-in page is shown", page.status === 200 && !!page.request, page.status);
  const callback = await post("/oauth2/auth/sign_in", { request: page.request, email: "alice@example.com" });
  check("signing in goes back to the callback with a code", callback?.includes("code="), callback);
  await client.handleRedirectToApp(session, new URL(callback));
  check("isAuthenticated() after handleRedirectToApp()", await client.isAuthenticated(session), {});
  const user = await client.getUser(session);
  check("getUser() is alice", user?.email === "alice@example.com" && user.id?.startsWith("kp_"), user);
  const token = await client.getToken(session);
  check("getToken() is a JWT", typeof token === "string" && token.split(".").length === 3, typeof token);
  const org = await client.getClaim(session, "org_code");
  check("getClaim('org_code') names her organization", /^org_[0-9a-f]+$/.test(org?.value ?? ""), org);
  const orgs = await client.getUserOrganizations(session);
  check("getUserOrganizations() includes it", orgs?.orgCodes?.includes(org?.value), orgs);
});

// register(): the registration page creates the user with the names typed.
await flow("register()", async () => {
  const session = sessionManager();
  const page = await open(await client.register(session));
  check("register() shows the registration page", page.status === 200 && page.html.includes("Create your account"), page.status);
  const email = `ts-sdk-${Date.now()}@example.com`;
  const callback = await post("/oauth2/auth/register", {
    request: page.request,
    email,
    given_name: "Tess",
    family_name: "Script",
  });
  await client.handleRedirectToApp(session, new URL(callback));
  const user = await client.getUser(session);
  check("register() then getUser() is the new user", user?.email === email && user.given_name === "Tess" && user.family_name === "Script", user);
});

// createOrg(): registration that also creates an organization, which the token is for.
await flow("createOrg()", async () => {
  const session = sessionManager();
  const page = await open(await client.createOrg(session, { org_name: "TS SDK Org" }));
  const callback = await post("/oauth2/auth/register", { request: page.request, email: `ts-org-${Date.now()}@example.com` });
  await client.handleRedirectToApp(session, new URL(callback));
  const org = await client.getOrganization(session);
  const orgs = await client.getUserOrganizations(session);
  check("createOrg() signs the user in to the new organization", /^org_/.test(org?.orgCode ?? "") && JSON.stringify(orgs?.orgCodes) === JSON.stringify([org.orgCode]), { org, orgs });
});

console.log(failures.length ? `${failures.length} failed` : "all passed");
process.exit(failures.length ? 1 : 0);
