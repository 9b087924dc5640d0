// Kinde's webhook decoder against the emulator's deliveries: a webhook registered through the
// Management API receives `user.created` when a user is created, and `@kinde/webhooks`
// `decodeWebhook(token, domain)` verifies it through the emulator's JWKS over HTTPS (the CA from
// NODE_EXTRA_CA_CERTS); a forged one decodes to null. Configured only by the env file's variables.
// Usage: node webhooks.mjs
import http from "node:http";
import { decodeWebhook } from "@kinde/webhooks";

const domain = process.env.KINDE_DOMAIN;
const failures = [];
const check = (what, ok, detail) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${ok ? "" : `: ${JSON.stringify(detail)}`}`);
  if (!ok) failures.push(what);
};

let deliver;
const delivered = new Promise((resolve) => (deliver = resolve));
const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    res.writeHead(200).end();
    deliver({ type: req.headers["content-type"], id: req.headers["webhook-id"], body });
  });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const endpoint = `http://127.0.0.1:${server.address().port}/kinde`;

const tokenResponse = await fetch(`${domain}/oauth2/token`, {
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({
    grant_type: "client_credentials",
    client_id: process.env.KINDE_MANAGEMENT_CLIENT_ID,
    client_secret: process.env.KINDE_MANAGEMENT_CLIENT_SECRET,
    audience: `${domain}/api`,
  }),
});
const { access_token } = await tokenResponse.json();
const api = async (method, path, body) => {
  const res = await fetch(`${domain}${path}`, {
    method,
    headers: { authorization: `Bearer ${access_token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return res.json();
};
const hook = await api("POST", "/api/v1/webhooks", {
  name: "interop",
  endpoint,
  event_types: ["user.created"],
});
check("POST /api/v1/webhooks", typeof hook.webhook?.id === "string", hook);
const email = `webhook-${Date.now()}@interop.example`;
const user = await api("POST", "/api/v1/user", {
  identities: [{ type: "email", details: { email } }],
});

const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 10_000));
const got = await Promise.race([delivered, timeout]);
check("user.created delivered", got !== null);
if (got) {
  check("Content-Type application/jwt", got.type === "application/jwt", got.type);
  check("webhook-id header", typeof got.id === "string" && got.id.length > 0, got.id);
  const decoded = await decodeWebhook(got.body, domain);
  check("decodeWebhook verifies it", decoded?.type === "user.created", decoded);
  check("its data is the created user", decoded?.data?.user?.id === user.id && decoded?.data?.user?.email === email, decoded);
  check("event_id and source", /^event_[0-9a-f]{32}$/.test(decoded?.event_id ?? "") && decoded?.source === "api", decoded);
  const [header, payload, signature] = got.body.split(".");
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
  claims.data.user.email = "attacker@interop.example";
  const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${signature}`;
  check("a forged webhook decodes to null", (await decodeWebhook(forged, domain)) === null);
}
server.close();
process.exit(failures.length === 0 ? 0 : 1);
