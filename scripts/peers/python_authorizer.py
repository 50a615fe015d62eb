"""The authorizer's work in Python, as a Lambda function would do it with boto3 and PyJWT: the
peer `scripts/coldstart` starts beside authgate's Rust authorizer.

At init: the published public keys (a JWK Set) from Secrets Manager and a DynamoDB client. Per
event (REST TOKEN): the RS256 token verified with PyJWT (kid, signature, exp, nbf, iat, iss, aud),
one strongly consistent BatchGetItem of the session and the user, an IAM policy back. It speaks
the Lambda Runtime API itself, as a custom runtime would, so nothing but boto3 and PyJWT loads.
"""
import json
import os
import time
import urllib.request

import boto3
import jwt

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
secrets = boto3.client("secretsmanager")
dynamodb = boto3.client("dynamodb")
jwks = jwt.PyJWKSet.from_json(
    secrets.get_secret_value(SecretId=os.environ["PUBLIC_KEYS_SECRET_ID"])["SecretString"])
TABLE, ISSUER, AUDIENCE = (os.environ["USERS_TABLE"], os.environ["TOKEN_ISSUER"],
                           os.environ["TOKEN_AUDIENCE"])


def decide(event):
    scheme, _, token = event["authorizationToken"].partition(" ")
    if scheme.lower() != "bearer":
        raise ValueError("Unauthorized")
    key = jwks[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER,
                        options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub", "sid"]})
    items = dynamodb.batch_get_item(RequestItems={TABLE: {
        "Keys": [{"pk": {"S": f"session#{claims['sid']}"}}, {"pk": {"S": f"user#{claims['sub']}"}}],
        "ConsistentRead": True}})["Responses"][TABLE]
    found = {item["pk"]["S"].split("#")[0]: item for item in items}
    session = found.get("session")
    if (session is None or "user" not in found or session.get("revoked", {}).get("BOOL")
            or int(session["expires_at_ms"]["N"]) < time.time() * 1000):
        raise ValueError("Unauthorized")
    stage = "/".join(event["methodArn"].split("/")[:2])
    return {
        "principalId": claims["sub"],
        "policyDocument": {"Version": "2012-10-17", "Statement": [{
            "Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": [f"{stage}/*/*"]}]},
        "context": {"sub": claims["sub"], "scope": claims.get("scope", ""),
                    "claims": json.dumps(claims)},
    }


while True:
    with urllib.request.urlopen(f"{API}/next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.load(response)
    try:
        body, outcome = json.dumps(decide(event)).encode(), "response"
    except Exception:  # noqa: BLE001 - any failure is a refusal, as the real authorizer's
        body, outcome = json.dumps({"errorMessage": "Unauthorized"}).encode(), "error"
    urllib.request.urlopen(urllib.request.Request(
        f"{API}/{request_id}/{outcome}", data=body, method="POST")).close()
