#!/usr/bin/env python3
"""A tiny webhook receiver for trying ihf-webhooks out (Python stdlib only).

Prints each delivery and checks its Standard Webhooks signature with the
subscription secret given in WEBHOOK_SECRET (whsec_...).

    WEBHOOK_SECRET=whsec_... python3 examples/receiver.py 9000
    WEBHOOK_SECRET=whsec_... python3 examples/receiver.py 9000 0.0.0.0   # reachable from containers
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ.get("WEBHOOK_SECRET", "")


def verify(headers, body):
    if not SECRET.startswith("whsec_"):
        return "not checked (set WEBHOOK_SECRET)"
    key = base64.b64decode(SECRET[len("whsec_"):])
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(ts)) > 300:
        return "REJECTED: timestamp outside ±5 min"
    signed = f"{msg_id}.{ts}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for item in headers["webhook-signature"].split(" "):
        version, _, sig = item.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return "verified"
    return "REJECTED: no matching signature"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        event = json.loads(body)
        print(f"{event['type']} {event['id']} signature {verify(self.headers, body)}")
        print(f"  data: {json.dumps(event['data'])}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    print(f"listening on http://{host}:{port}/", flush=True)
    HTTPServer((host, port), Handler).serve_forever()
