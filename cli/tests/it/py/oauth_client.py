"""authgate's OAuth endpoints through authlib, as a partner's backend would use them.

Reads the base URL and the clients from argv, prints one JSON object of what it saw; the Rust
test (cli/tests/it/oauth.rs) asserts on it.
"""

import json
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

base, partner_id, partner_secret, narrow_id, narrow_secret, auditor_id, auditor_secret = sys.argv[1:]
seen = {}

metadata = AuthorizationServerMetadata(
    requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=10).json()
)
metadata.validate()
seen["metadata"] = dict(metadata)

basic = OAuth2Session(
    partner_id,
    partner_secret,
    token_endpoint_auth_method="client_secret_basic",
    scope="users:read",
)
token = basic.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
seen["basic"] = {k: token[k] for k in ("token_type", "scope", "expires_in")}
seen["basic_has_refresh_token"] = "refresh_token" in token

post = OAuth2Session(
    partner_id, partner_secret, token_endpoint_auth_method="client_secret_post"
)
seen["post"] = post.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")["scope"]

try:
    OAuth2Session(partner_id, partner_secret, scope="users:write").fetch_token(
        metadata["token_endpoint"], grant_type="client_credentials"
    )
    seen["invalid_scope"] = None
except OAuthError as error:
    seen["invalid_scope"] = error.error

try:
    OAuth2Session(partner_id, "not-the-secret").fetch_token(
        metadata["token_endpoint"], grant_type="client_credentials"
    )
    seen["wrong_secret"] = None
except OAuthError as error:
    seen["wrong_secret"] = error.error

seen["gated_route"] = basic.get(f"{base}/users", timeout=10).status_code

narrow = OAuth2Session(narrow_id, narrow_secret)
narrow.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
seen["gated_route_without_the_scope"] = narrow.get(f"{base}/users", timeout=10).status_code

auditor = OAuth2Session(auditor_id, auditor_secret)
access = token["access_token"]
seen["introspected"] = auditor.introspect_token(
    metadata["introspection_endpoint"], token=access
).json()
seen["introspected_by_owner"] = basic.introspect_token(
    metadata["introspection_endpoint"], token=access
).json()["active"]

seen["revoke_status"] = basic.revoke_token(
    metadata["revocation_endpoint"], token=access, token_type_hint="access_token"
).status_code
seen["gated_route_after_revocation"] = basic.get(f"{base}/users", timeout=10).status_code
seen["introspected_after_revocation"] = auditor.introspect_token(
    metadata["introspection_endpoint"], token=access
).json()

print(json.dumps(seen))
