"""Sign with the stock Standard Webhooks library, so the Rust SDK can be
checked against it (tests/it/interop.rs). stdin: {"secret", "msg_id",
"timestamp" (Unix seconds), "body"}; stdout: the three webhook-* headers as
JSON."""
import json
import sys
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook

request = json.load(sys.stdin)
signed_at = datetime.fromtimestamp(request["timestamp"], tz=timezone.utc)
signature = Webhook(request["secret"]).sign(request["msg_id"], signed_at, request["body"])
json.dump(
    {
        "webhook-id": request["msg_id"],
        "webhook-timestamp": str(request["timestamp"]),
        "webhook-signature": signature,
    },
    sys.stdout,
)
