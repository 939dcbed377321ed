"""Schemathesis hooks for `npm run test:contract` (scripts/contract-test.mjs).

The webhook's contract is "a body Stripe signed": the signature is an HMAC of the exact bytes
with the webhook secret, which no schema can generate. The check knows the secret of the stack it
started, so it signs like Stripe does every case whose Stripe-Signature header was generated
valid: such a case must then be accepted (200), and one with a signed body that breaks the
StripeEvent schema must still be refused (400). Cases with a missing or malformed header are
sent as generated and must be refused.
"""

import hashlib
import hmac
import json
import os
import time

import requests.compat
import schemathesis
from schemathesis.core.parameters import ParameterLocation

SECRET = os.environ["CONTRACT_STRIPE_WEBHOOK_SECRET"]
WEBHOOK = ("POST", "/webhooks/stripe")

# The bytes signed are the bytes requests sends for `json=`: its json.dumps, UTF-8.
assert requests.compat.json is json, "requests serialises JSON with another module than the one signed"


def _header_generated_valid(case) -> bool:
    meta = case.meta
    if meta is None:
        return False
    header = meta.components.get(ParameterLocation.HEADER)
    return header is not None and not header.mode.is_negative


@schemathesis.hook
def before_call(context, case, kwargs):
    if (case.method.upper(), case.operation.path) != WEBHOOK:
        return
    headers = dict(case.headers or {})
    name = next((k for k in headers if k.lower() == "stripe-signature"), None)
    if name is None or not isinstance(headers[name], str) or not _header_generated_valid(case):
        return
    if case.media_type not in (None, "application/json") or isinstance(case.body, (bytes, str)):
        return
    body = json.dumps(case.body, allow_nan=False).encode("utf-8")
    timestamp = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers[name] = f"t={timestamp},v1={mac}"
    case.headers = headers
