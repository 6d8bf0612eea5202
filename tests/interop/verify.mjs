// Verify an ihf-webhooks delivery with the stock Standard Webhooks library
// (npm `standardwebhooks`). The README's JavaScript snippet is the part
// between the snippet markers, quoted verbatim (a test checks).
// tests/it/interop.rs runs this file on real deliveries: stdin
// {"headers": {...}, "body": "..."}, WEBHOOK_SECRET in the environment;
// exit 0 and "verified", or exit 3 and "rejected".

// --- snippet: js-verify ---
import { Webhook, WebhookVerificationError } from "standardwebhooks";

const webhook = new Webhook(process.env.WEBHOOK_SECRET); // the whsec_... returned when subscribing

// Call with the raw request body (string or Buffer) and headers; returns the status to answer.
export function receive(body, headers) {
  let event;
  try {
    event = webhook.verify(body, headers); // signature, and timestamp within 5 min
  } catch (err) {
    if (err instanceof WebhookVerificationError) return 401;
    throw err;
  }
  console.log(event.type, event.id); // dedupe on event.id: delivery is at least once
  return 204;
}
// --- end snippet ---

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const delivery = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const status = receive(delivery.body, delivery.headers);
console.log(status === 204 ? "verified" : "rejected");
process.exit(status === 204 ? 0 : 3);
