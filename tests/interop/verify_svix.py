"""Verify an ihf-webhooks delivery with the svix package (same contract as
verify.py: stdin {"headers", "body"}, WEBHOOK_SECRET; exit 0 "verified" or
exit 3 "rejected")."""
import sys

# --- snippet: python-svix-verify ---
import json
import os

from svix.webhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["WEBHOOK_SECRET"])


def receive(body: bytes, headers: dict) -> int:
    try:
        webhook.verify(body, headers)  # reads webhook-* (or svix-*) headers
    except WebhookVerificationError:
        return 401
    event = json.loads(body)
    print(event["type"], event["id"])
    return 204
# --- end snippet ---


if __name__ == "__main__":
    delivery = json.load(sys.stdin)
    status = receive(delivery["body"].encode(), delivery["headers"])
    print("verified" if status == 204 else "rejected")
    sys.exit(0 if status == 204 else 3)
