"""What authgate costs on AWS, on paper: the tables of docs/cost.md, from list prices and this
machine's measurements.

Measurements come from criterion's results under target/criterion (scripts/bench writes them):
the Argon2id verification and the login work beyond it (functions/login/benches/handlers.rs).
What cannot be measured without an AWS account is an input, named and shown: the DynamoDB
round-trip time inside a region (--dynamodb-ms), and how a Lambda vCPU compares with one core of
the machine that ran the benches (--core-ratio). Lambda gives a function CPU in proportion to its
memory, one vCPU at 1,769 MB (AWS Lambda Developer Guide, "Configure Lambda function memory").

Usage: scripts/cost [--dynamodb-ms MS] [--core-ratio R] [--criterion DIR]
"""
import argparse
import json
import pathlib

# List prices, US East (N. Virginia), USD, read 2026-12-01 (sources in docs/cost.md).
LAMBDA_REQUEST = 0.20 / 1e6
LAMBDA_GB_S = {"arm64": 0.0000133334, "x86_64": 0.0000166667}
# (units in the tier, price per unit); API Gateway lists its prices per million requests.
REST_API_TIERS = [(333e6, 3.50 / 1e6), (667e6, 2.80 / 1e6), (19e9, 2.38 / 1e6), (float("inf"), 1.51 / 1e6)]
HTTP_API_TIERS = [(300e6, 1.00 / 1e6), (float("inf"), 0.90 / 1e6)]
DYNAMODB_RRU = 0.125 / 1e6
DYNAMODB_WRU = 0.625 / 1e6
COGNITO_ESSENTIALS_MAU, COGNITO_FREE_MAU = 0.015, 10_000
COGNITO_LITE_TIERS = [(10_000, 0.0), (90_000, 0.0055), (900_000, 0.0046)]

ONE_VCPU_MB = 1769
# DynamoDB work per call, counted from shared/dynamo (items well under 1 KB / 4 KB):
# authorizer: one strongly consistent BatchGetItem of the session and user items (2 RRU).
AUTHORIZER_RRU, AUTHORIZER_ROUND_TRIPS = 2, 1
# login: address window UpdateItem, in-flight count UpdateItem, backoff GetItem (consistent) and
# conditional PutItem, email and user GetItems, the session's TransactWriteItems of two puts and
# a ConditionCheck of the user (each counted as a transactional write, 2 WRU), the backoff's
# DeleteItem, and the address window's and the in-flight count's UpdateItems back.
LOGIN_RRU, LOGIN_WRU, LOGIN_ROUND_TRIPS = 3, 12, 10
# client-credentials token: the client's throttle as login's (address window and in-flight
# UpdateItems, backoff GetItem and conditional PutItem; on success the backoff's DeleteItem and
# the two UpdateItems back) and the client's GetItem: 2 RRU, 6 WRU, 8 round trips.
CLIENT_TOKEN_RRU, CLIENT_TOKEN_WRU, CLIENT_TOKEN_ROUND_TRIPS = 2, 6, 8
# Cognito's machine-to-machine prices (US East): per app client a month, per token request.
COGNITO_M2M_CLIENT_MONTH, COGNITO_M2M_TOKEN = 6.00, 2.25 / 1000
MONTH_S = 30 * 24 * 3600
TEMPLATE = pathlib.Path(__file__).resolve().parents[1] / "template.yaml"


def memory_size(function):
    """The MemorySize template.yaml gives `function`."""
    inside = False
    for line in TEMPLATE.read_text().splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            inside = line.strip() == f"{function}:"
        elif inside and line.strip().startswith("MemorySize:"):
            return int(line.split(":", 1)[1])
    raise SystemExit(f"cost: no MemorySize for {function} in template.yaml")


def tiered(units, tiers):
    """The price of `units` under `tiers`, filled in order."""
    cost, left = 0.0, units
    for size, price in tiers:
        step = min(left, size)
        cost += step * price
        left -= step
        if left <= 0:
            break
    return cost


def mean_ns(criterion, group, name):
    path = pathlib.Path(criterion) / group / name / "new" / "estimates.json"
    if not path.exists():
        raise SystemExit(f"cost: {path} is missing; run scripts/bench first")
    return json.loads(path.read_text())["mean"]["point_estimate"]


def cpu_ms(core_ms, memory_mb, core_ratio):
    """CPU-bound milliseconds on one core here, as Lambda runs them at `memory_mb`."""
    return core_ms * core_ratio * max(1.0, ONE_VCPU_MB / memory_mb)


def billed_ms(ms):
    return max(1, int(-(-ms // 1)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dynamodb-ms", type=float, default=5.0)
    parser.add_argument("--core-ratio", type=float, default=1.0)
    parser.add_argument("--criterion", default="target/criterion")
    args = parser.parse_args()

    argon2_ms = mean_ns(args.criterion, "handlers", "the password hash_ Argon2id verify, m=19456 KiB t=2 p=1") / 1e6
    beyond_ms = mean_ns(args.criterion, "handlers", "login, beyond the hash (RS256)") / 1e6
    decision_ms = mean_ns(args.criterion, "authorizer", "decision_ event JSON in, policy JSON out") / 1e6
    arm = LAMBDA_GB_S["arm64"]
    authorizer_mb, login_mb = memory_size("AuthorizerFunction"), memory_size("LoginFunction")

    print(f"Inputs: Argon2id verify {argon2_ms:.1f} ms and login beyond it {beyond_ms:.2f} ms on one "
          f"core here, authorizer decision {decision_ms * 1000:.1f} µs; DynamoDB round trip "
          f"{args.dynamodb_ms:g} ms and Lambda vCPU = {args.core_ratio:g} × this core (assumed).\n")

    authorizer_ms = billed_ms(cpu_ms(decision_ms, authorizer_mb, args.core_ratio)
                              + AUTHORIZER_ROUND_TRIPS * args.dynamodb_ms)
    per_invocation = (LAMBDA_REQUEST + authorizer_mb / 1024 * authorizer_ms / 1000 * arm
                      + AUTHORIZER_RRU * DYNAMODB_RRU)
    print(f"### Per million authorizations (authorizer at {authorizer_mb} MB arm64, billed "
          f"{authorizer_ms} ms per invocation)\n")
    print("| cache hit ratio | authorizer invocations | Lambda + DynamoDB | + REST API requests | + HTTP API requests |")
    print("| --- | --- | --- | --- | --- |")
    for hit in (0.0, 0.5, 0.9, 0.99):
        invocations = (1 - hit) * 1e6
        own = invocations * per_invocation
        print(f"| {hit:.0%} | {invocations:,.0f} | ${own:.3f} | ${own + 3.50:.2f} | ${own + 1.00:.2f} |")

    print("\n### Per million logins, by the login function's MemorySize (arm64)\n")
    print("| MemorySize | CPU share | duration | Lambda | DynamoDB | total |")
    print("| --- | --- | --- | --- | --- | --- |")
    dynamo_login = LOGIN_RRU * DYNAMODB_RRU + LOGIN_WRU * DYNAMODB_WRU
    for memory in (128, 256, 512, 1024, 1769, 2048):
        ms = billed_ms(cpu_ms(argon2_ms + beyond_ms, memory, args.core_ratio)
                       + LOGIN_ROUND_TRIPS * args.dynamodb_ms)
        lam = LAMBDA_REQUEST + memory / 1024 * ms / 1000 * arm
        share = min(1.0, memory / ONE_VCPU_MB)
        print(f"| {memory} MB | {share:.0%} of a vCPU | {ms} ms | ${lam * 1e6:.2f} | "
              f"${dynamo_login * 1e6:.2f} | ${(lam + dynamo_login) * 1e6:.2f} |")

    token_ms_core = mean_ns(args.criterion, "oauth", "client credentials token (RS256)") / 1e6
    oauth_mb = memory_size("OAuthFunction")
    token_ms = billed_ms(cpu_ms(token_ms_core, oauth_mb, args.core_ratio)
                         + CLIENT_TOKEN_ROUND_TRIPS * args.dynamodb_ms)
    per_token = (LAMBDA_REQUEST + oauth_mb / 1024 * token_ms / 1000 * arm
                 + CLIENT_TOKEN_RRU * DYNAMODB_RRU + CLIENT_TOKEN_WRU * DYNAMODB_WRU)
    print(f"\n### Machine-to-machine: client-credentials tokens (token endpoint at {oauth_mb} MB "
          f"arm64, {token_ms_core:.2f} ms on one core here, billed {token_ms} ms)\n")
    print("| clients | tokens a month | authgate (Lambda + DynamoDB + REST API) | Cognito M2M |")
    print("| --- | --- | --- | --- |")
    for clients, tokens in ((10, 1e5), (20, 1e6), (100, 1e7)):
        ours = tokens * (per_token + 3.50 / 1e6)
        cognito = clients * COGNITO_M2M_CLIENT_MONTH + tokens * COGNITO_M2M_TOKEN
        print(f"| {clients} | {tokens:,.0f} | ${ours:,.2f} | ${cognito:,.0f} |")

    requests = 10_000 * MONTH_S
    print(f"\n### A month (30 days) at 10,000 requests/s: {requests / 1e9:.2f} billion requests\n")
    print("| cache hit ratio | authorizer (Lambda + DynamoDB) | REST API | HTTP API |")
    print("| --- | --- | --- | --- |")
    for hit in (0.0, 0.9, 0.99):
        own = (1 - hit) * requests * per_invocation
        print(f"| {hit:.0%} | ${own:,.0f} | ${tiered(requests, REST_API_TIERS):,.0f} | "
              f"${tiered(requests, HTTP_API_TIERS):,.0f} |")
    print(f"\n| monthly active users | Cognito Lite | Cognito Essentials | authgate: 30 logins per user (login at {login_mb} MB) |")
    print("| --- | --- | --- | --- |")
    login_ms = billed_ms(cpu_ms(argon2_ms + beyond_ms, login_mb, args.core_ratio)
                         + LOGIN_ROUND_TRIPS * args.dynamodb_ms)
    per_login = LAMBDA_REQUEST + login_mb / 1024 * login_ms / 1000 * arm + dynamo_login
    for mau in (10_000, 100_000, 1_000_000):
        billable = max(0, mau - COGNITO_FREE_MAU)
        lite = tiered(mau, COGNITO_LITE_TIERS)
        print(f"| {mau:,} | ${lite:,.0f} | "
              f"${billable * COGNITO_ESSENTIALS_MAU:,.0f} | ${mau * 30 * per_login:,.2f} |")


if __name__ == "__main__":
    main()
