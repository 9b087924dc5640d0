// Kinde's own validator against the emulator: a token it serves must validate, a forged one must not.
// Usage: node jwt-validator.mjs <issuer> <token>
import { validateToken } from "@kinde/jwt-validator";

const [domain, token] = process.argv.slice(2);
const good = await validateToken({ token, domain });
const [header, payload, signature] = token.split(".");
const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
claims.scope = `${claims.scope} delete:everything`;
const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${signature}`;
const bad = await validateToken({ token: forged, domain });
console.log(JSON.stringify({ good, forged: bad }));
process.exit(good.valid && !bad.valid ? 0 : 1);
