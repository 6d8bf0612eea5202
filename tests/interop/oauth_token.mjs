// Get an API token with plain fetch (OAuth 2.0 client credentials, HTTP
// Basic) and call the API. The README's snippet is the part between the
// markers, quoted verbatim. tests/it/interop.rs runs this file against the
// service: IHF_URL, IHF_CLIENT_ID (a consumer id) and IHF_CLIENT_SECRET (one
// of its keys) in the environment; prints {"scope", "subscriptions"} as JSON.

// --- snippet: js-token ---
const base = process.env.IHF_URL; // e.g. https://webhooks.example.com
const basic = Buffer.from(
  `${process.env.IHF_CLIENT_ID}:${process.env.IHF_CLIENT_SECRET}`, // consumer id : API key
).toString("base64");
const tokenResponse = await fetch(`${base}/api/v2/token`, {
  method: "POST",
  headers: { Authorization: `Basic ${basic}` },
  body: new URLSearchParams({ grant_type: "client_credentials", scope: "webhooks:read deliveries:read" }),
});
const token = await tokenResponse.json(); // { access_token, token_type, expires_in, scope } or { error, error_description }
if (!tokenResponse.ok) throw new Error(`token refused: ${token.error}: ${token.error_description}`);
// Reuse the token until shortly before token.expires_in seconds have passed, then fetch another.
const response = await fetch(`${base}/api/v2/webhooks`, {
  headers: { Authorization: `Bearer ${token.access_token}` },
});
if (!response.ok) throw new Error(`API: ${response.status} ${(await response.json()).detail}`);
const subscriptions = (await response.json()).data;
// --- end snippet ---

console.log(JSON.stringify({ scope: token.scope, subscriptions: subscriptions.length }));
