"""Reference SigV4 signatures for the Bedrock provider's signing test, computed by botocore
(the AWS SDK for Python) so that the Rust signer is checked against an independent one.

Run with the test virtualenv: `.venv/bin/python scripts/reference/bedrock_sigv4.py`; the
printed headers are the expected values in crates/providers/src/bedrock/tests.rs.
"""
import datetime
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

URL = ("https://bedrock-runtime.eu-central-1.amazonaws.com"
       "/model/eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse")
BODY = b'{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}'
WHEN = datetime.datetime(2026, 11, 28, 12, 0, 0)

for token in (None, "IQoJb3JpZ2luX2VjEXAMPLETOKEN"):
    request = AWSRequest(method="POST", url=URL, data=BODY,
                         headers={"content-type": "application/json", "accept": "application/json"})
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    with mock.patch("botocore.auth.get_current_datetime", return_value=WHEN):
        SigV4Auth(creds, "bedrock", "eu-central-1").add_auth(request)
    print("token" if token else "no token")
    for name in ("X-Amz-Date", "X-Amz-Security-Token", "Authorization"):
        if name in request.headers:
            print(f"  {name}: {request.headers[name]}")
