"""Verify an ihf-webhooks delivery with the stock Standard Webhooks library.

The README's Python snippet is the part between the snippet markers, quoted
verbatim (a test checks). tests/it/interop.rs runs this file on real
deliveries: stdin {"headers": {...}, "body": "..."}, WEBHOOK_SECRET in the
environment; exit 0 and "verified", or exit 3 and "rejected".
"""
import json
import sys

# --- snippet: python-verify ---
import os

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["WEBHOOK_SECRET"])  # the whsec_... returned when subscribing


def receive(body: bytes, headers: dict) -> int:
    """Call with the raw request body and headers; returns the status to answer."""
    try:
        event = webhook.verify(body, headers)  # signature, and timestamp within 5 min
    except WebhookVerificationError:
        return 401
    print(event["type"], event["id"])  # dedupe on event["id"]: delivery is at least once
    return 204
# --- end snippet ---


if __name__ == "__main__":
    delivery = json.load(sys.stdin)
    status = receive(delivery["body"].encode(), delivery["headers"])
    print("verified" if status == 204 else "rejected")
    sys.exit(0 if status == 204 else 3)
