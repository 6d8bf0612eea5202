"""Get an API token with a stock OAuth 2.0 client (authlib) and call the API.
The README's snippet is the part between the markers, quoted verbatim.
tests/it/interop.rs runs this file against the service: IHF_URL,
IHF_CLIENT_ID (a consumer id) and IHF_CLIENT_SECRET (one of its keys) in the
environment; prints {"scope", "subscriptions"} as JSON.
"""
import json

# --- snippet: python-token ---
import os

from authlib.integrations.requests_client import OAuth2Session

base = os.environ["IHF_URL"]  # e.g. https://webhooks.example.com
session = OAuth2Session(
    os.environ["IHF_CLIENT_ID"],  # the consumer id
    os.environ["IHF_CLIENT_SECRET"],  # one of its API keys
    scope="webhooks:read deliveries:read",
)
token = session.fetch_token(f"{base}/api/v2/token", grant_type="client_credentials")
response = session.get(f"{base}/api/v2/webhooks")  # sends Authorization: Bearer <token>
response.raise_for_status()
subscriptions = response.json()["data"]
# --- end snippet ---

print(json.dumps({"scope": token["scope"], "subscriptions": len(subscriptions)}))
