// Kinde's official Management API SDK, unchanged, against the emulator over HTTPS, configured
// only by the emulator's env file in the environment (KINDE_DOMAIN, KINDE_MANAGEMENT_CLIENT_ID,
// KINDE_MANAGEMENT_CLIENT_SECRET, NODE_EXTRA_CA_CERTS), `init()` as its README shows.
// Usage: node management-api.mjs
import { init, Users, Callbacks, Apis } from "@kinde/management-api-js";

const appId = process.env.KINDE_CLIENT_ID;
init();

const failures = [];
const check = (what, ok, detail) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${ok ? "" : `: ${JSON.stringify(detail)}`}`);
  if (!ok) failures.push(what);
};

// The TypeScript SDK's sign-ups ran first: the count is read, not assumed.
const all = await Users.getUsers({ pageSize: 500 });
const users = await Users.getUsers({ pageSize: 2 });
check("Users.getUsers returns a page with next_token", users.users?.length === 2 && !!users.next_token, users);
const rest = await Users.getUsers({ pageSize: 10, nextToken: users.next_token });
check("Users.getUsers follows next_token", all.users?.length > 2 && rest.users?.length === Math.min(10, all.users.length - 2), rest);

const url = "https://sdk.interop.example/callback";
await Callbacks.addRedirectCallbackUrls({ appId, requestBody: { urls: [url] } });
const callbacks = await Callbacks.getCallbackUrls({ appId });
check("Callbacks add + get", callbacks.redirect_urls?.includes(url), callbacks);
await Callbacks.replaceRedirectCallbackUrls({ appId, requestBody: { urls: [url, `${url}2`] } });
await Callbacks.deleteCallbackUrls({ appId, urls: `${url}2` });
const after = await Callbacks.getCallbackUrls({ appId });
check("Callbacks replace + delete", JSON.stringify(after.redirect_urls) === JSON.stringify([url]), after);
const logout = await Callbacks.getLogoutUrls({ appId });
check("Callbacks.getLogoutUrls", Array.isArray(logout.logout_urls), logout);

const created = await Apis.addApis({ requestBody: { name: "SDK API", audience: "https://sdk.interop.example" } });
const apiId = created.api?.id;
check("Apis.addApis", typeof apiId === "string", created);
await Apis.addApiScope({ apiId, requestBody: { key: "read:things", description: "Read things" } });
await Apis.updateApiApplications({ apiId, requestBody: { applications: [{ id: appId }] } });
const api = await Apis.getApi({ apiId });
check("Apis.getApi shows the scope", api.api?.scopes?.some((s) => s.key === "read:things"), api);
check("Apis.getApi shows the authorised app", api.api?.applications?.some((a) => a.id === appId && a.is_active), api);
const apis = await Apis.getApis();
check("Apis.getApis lists it", apis.apis?.some((a) => a.id === apiId), apis);
await Apis.deleteApi({ apiId });
const gone = await Apis.getApis();
check("Apis.deleteApi", !gone.apis?.some((a) => a.id === apiId), gone);

let refused = false;
try {
  await Apis.addApis({ requestBody: { name: "", audience: "" } });
} catch (e) {
  refused = e.status === 400;
}
check("a bad request is an ApiError with status 400", refused, {});

console.log(failures.length ? `${failures.length} failed` : "all passed");
process.exit(failures.length ? 1 : 0);
