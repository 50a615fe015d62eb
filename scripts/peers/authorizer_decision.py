"""The authorizer's decision in Python, the peer of `cargo bench -p authorizer --bench decision`.

The same work per call: a REST TOKEN event as JSON text in, PyJWT verifies an HS256 token
(signature, exp, nbf, iat, iss, aud, the claims authgate requires), the session is read from a
dict in memory, the IAM policy goes out as JSON text. Prints microseconds per decision.
"""
import json
import sys
import time
import uuid

import jwt

ISS, AUD, SECRET = "urn:authgate:bench", "authgate-api", bytes([7] * 32)
REQUIRED = ["exp", "nbf", "iat", "iss", "aud", "sub", "jti", "sid"]


def main(events_dir: str) -> None:
    user, sid = str(uuid.uuid4()), str(uuid.uuid4())
    now = int(time.time())
    token = jwt.encode(
        {"iss": ISS, "sub": user, "aud": AUD, "iat": now, "nbf": now, "exp": now + 3600,
         "jti": str(uuid.uuid4()), "sid": sid, "email": "bench@example.com",
         "email_verified": False, "roles": [], "scope": ""},
        SECRET, algorithm="HS256", headers={"kid": "v1", "typ": "at+jwt"})
    with open(f"{events_dir}/authorizer.json") as f:
        event_text = f.read().replace("REPLACE_WITH_AN_ACCESS_TOKEN", token)
    sessions = {sid: {"user_id": user, "revoked": False, "expires_at_ms": (now + 3600) * 1000}}

    def decide() -> str:
        event = json.loads(event_text)
        scheme, _, raw = event["authorizationToken"].partition(" ")
        assert scheme.lower() == "bearer"
        claims = jwt.decode(raw, SECRET, algorithms=["HS256"], audience=AUD, issuer=ISS,
                            options={"require": REQUIRED})
        session = sessions[claims["sid"]]
        assert session["user_id"] == claims["sub"] and not session["revoked"]
        stage = "/".join(event["methodArn"].split("/")[:2])
        return json.dumps({
            "principalId": claims["sub"],
            "policyDocument": {"Version": "2012-10-17", "Statement": [{
                "Action": ["execute-api:Invoke"], "Effect": "Allow",
                "Resource": [f"{stage}/GET/users/me"]}]},
            "context": {"sub": claims["sub"], "email": claims["email"], "scope": claims["scope"],
                        "roles": " ".join(claims["roles"]), "claims": json.dumps(claims)},
        })

    decide()
    best = float("inf")
    for _ in range(5):
        n, start = 20000, time.perf_counter()
        for _ in range(n):
            decide()
        best = min(best, (time.perf_counter() - start) / n)
    print(f"{best * 1e6:.1f}")


if __name__ == "__main__":
    main(sys.argv[1])
