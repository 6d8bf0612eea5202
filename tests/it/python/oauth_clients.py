"""Stock OAuth 2.0 clients against the real server: authlib (HTTP Basic and
client_secret_post) and requests-oauthlib (BackendApplicationClient).

Run by tests/it/api_token.rs with IHF_URL, IHF_CLIENT_ID and IHF_CLIENT_SECRET
set; prints one line per check and exits non-zero on the first failure.
"""
import os
import sys

base = os.environ["IHF_URL"]
client_id = os.environ["IHF_CLIENT_ID"]
client_secret = os.environ["IHF_CLIENT_SECRET"]
token_url = base + "/api/v2/token"
webhooks_url = base + "/api/v2/webhooks"


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (": " + str(detail) if detail else ""))
    if not ok:
        sys.exit(1)


def authlib_flows():
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.integrations.base_client.errors import OAuthError

    for method in ("client_secret_basic", "client_secret_post"):
        session = OAuth2Session(
            client_id, client_secret, scope="webhooks:read", token_endpoint_auth_method=method
        )
        token = session.fetch_token(token_url, grant_type="client_credentials")
        check(f"authlib {method}: token type", token["token_type"] == "Bearer", token["token_type"])
        check(f"authlib {method}: scope", token["scope"] == "webhooks:read", token["scope"])
        check(f"authlib {method}: expires_in", token["expires_in"] == 3600, token["expires_in"])
        listed = session.get(webhooks_url)
        check(f"authlib {method}: token lists webhooks", listed.status_code == 200, listed.status_code)
        write = session.post(webhooks_url, json={"event_type": "annotation.created", "target_url": "http://127.0.0.1:9/"})
        check(f"authlib {method}: token lacks webhooks:write", write.status_code == 403, write.status_code)

    session = OAuth2Session(client_id, client_secret, scope="admin")
    try:
        session.fetch_token(token_url, grant_type="client_credentials")
        check("authlib: more scopes than the key has", False, "a token was issued")
    except OAuthError as e:
        check("authlib: more scopes than the key has", e.error == "invalid_scope", e.error)

    session = OAuth2Session(client_id, "ihf_" + "0" * 64)
    try:
        session.fetch_token(token_url, grant_type="client_credentials")
        check("authlib: wrong secret", False, "a token was issued")
    except OAuthError as e:
        check("authlib: wrong secret", e.error == "invalid_client", e.error)


def requests_oauthlib_flow():
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # the test server is http on loopback
    from oauthlib.oauth2 import BackendApplicationClient
    from requests_oauthlib import OAuth2Session

    # The library's documented example: no scope asked, all of the key's granted.
    session = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
    token = session.fetch_token(token_url=token_url, client_id=client_id, client_secret=client_secret)
    check("requests-oauthlib: default scope", "webhooks:write" in token["scope"], token["scope"])

    # Scopes are sent from the client object (the session's are only compared).
    scope = ["webhooks:read", "deliveries:read"]
    client = BackendApplicationClient(client_id=client_id, scope=scope)
    session = OAuth2Session(client=client, scope=scope)
    token = session.fetch_token(token_url=token_url, client_id=client_id, client_secret=client_secret)
    check("requests-oauthlib: token type", token["token_type"] == "Bearer", token["token_type"])
    check(
        "requests-oauthlib: scope",
        sorted(token["scope"]) == ["deliveries:read", "webhooks:read"],
        token["scope"],
    )
    listed = session.get(webhooks_url)
    check("requests-oauthlib: token lists webhooks", listed.status_code == 200, listed.status_code)


authlib_flows()
requests_oauthlib_flow()
print("all stock-client checks passed")
