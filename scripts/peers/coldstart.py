"""Cold starts of authgate's release binaries, as Lambda starts them, next to two peers.

Each run starts one binary fresh against a Lambda Runtime API served here on 127.0.0.1, with
DynamoDB Local and moto found through the standard AWS_ENDPOINT_URL_* variables, and times
start -> ready (its first GET .../invocation/next, init done) -> first response (its POST of the
answer to one event), then reads its peak RSS (VmHWM) before stopping it. The stack is set up by
authgate's own functions, each measured on the way: rotate-key answers the Custom::SigningKeys
request that makes the RS256 key, register creates a user, login signs a token, and the
authorizer, refresh and discovery then answer with them. The peers: the smallest Rust Lambda on
the same runtime crate (shared/runtime/examples/hello.rs) and a Python authorizer doing the
authorizer's work with boto3 and PyJWT (scripts/peers/python_authorizer.py).

Beside the authorizer's starts it times the emulators alone answering the same two reads
(moto's GetSecretValue at init, DynamoDB Local's BatchGetItem per request), each start followed
by one of each, so that both see the emulators in the same state; with the hello peer's first
response they give the floor these emulators set for the authorizer's cold start.

Usage (scripts/coldstart does all this): coldstart.py TARGET_DIR RUNS
With COLDSTART_LOG_DIR=DIR, each start of an authgate function also logs at debug level, every
line timed from the start of its logging (AUTHGATE_LOG_UPTIME), to DIR/NAME-N.log.
"""
import base64
import http.client
import http.server
import json
import os
import pathlib
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
ISSUER, AUDIENCE = "urn:authgate:coldstart", "authgate-api"


class RuntimeApi(http.server.ThreadingHTTPServer):
    """One invocation per process: the event, then a /next that never answers."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.reset(None)

    def reset(self, event):
        with self.lock:
            self.event, self.ready_at, self.answered_at = event, None, None
            self.answer, self.error, self.served = None, None, False
            self.done = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        api = self.server
        if not self.path.endswith("/invocation/next"):
            self.send_error(404)
            return
        with api.lock:
            first = not api.served
            if first:
                api.ready_at, api.served = time.perf_counter(), True
        if not first:
            time.sleep(3600)
            return
        body = json.dumps(api.event).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", str(uuid.uuid4()))
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:123456789012:function:coldstart")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        api = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        now = time.perf_counter()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with api.lock:
            api.answered_at = now
            if self.path.endswith("/response"):
                api.answer = json.loads(body or b"null")
            else:
                api.error = body.decode(errors="replace")
        api.done.set()


class ResponseUrl(http.server.ThreadingHTTPServer):
    """CloudFormation's presigned response URL: keeps what the custom resource PUTs."""

    daemon_threads = True

    def __init__(self):
        server = self
        self.answers = []

        class Put(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.answers.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(("127.0.0.1", 0), Put)


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def run_once(command, env, event, log=None):
    # A server of its own per start: a late request of the last process cannot reach this one.
    api = RuntimeApi()
    api.reset(event)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    try:
        return start_once(api, command, env, log)
    finally:
        api.shutdown()
        api.server_close()


def start_once(api, command, env, log=None):
    environment = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "coldstart",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_LAMBDA_LOG_GROUP_NAME": "local",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_ENDPOINT_URL_DYNAMODB": os.environ["AUTHGATE_TEST_DYNAMODB_ENDPOINT"],
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": os.environ["AUTHGATE_TEST_MOTO_ENDPOINT"],
        "AWS_ENDPOINT_URL_SESV2": os.environ["AUTHGATE_TEST_MOTO_ENDPOINT"],
        "TOKEN_ISSUER": ISSUER,
        "TOKEN_AUDIENCE": AUDIENCE,
        **env,
    }
    stdout = subprocess.DEVNULL
    if log is not None:
        # The process's own account of its start, each line timed from its logging's start.
        environment.update(RUST_LOG="debug", AUTHGATE_LOG_UPTIME="true")
        stdout = open(log, "w")
    start = time.perf_counter()
    process = subprocess.Popen(command, env=environment, stdout=stdout, stderr=subprocess.PIPE)
    answered = api.done.wait(60)
    rss = peak_rss_kib(process.pid) if answered else 0
    process.kill()
    _, stderr = process.communicate()
    if log is not None:
        stdout.close()
    if not answered:
        raise SystemExit(f"{command[0]}: no answer in 60 s\n{stderr.decode()[-2000:]}")
    if api.error is not None:
        raise SystemExit(f"{command[0]}: error {api.error}\n{stderr.decode()[-2000:]}")
    return {
        "ready_ms": (api.ready_at - start) * 1000,
        "answer_ms": (api.answered_at - start) * 1000,
        "rss_mib": rss / 1024,
        "answer": api.answer,
    }


def measure(name, command, env, event, runs, check, after=lambda: None):
    """`runs` fresh starts of `command`, `after` called after each (to time the emulators alone
    in the same state of their JVM and caches as the starts see). With COLDSTART_LOG_DIR set,
    authgate's functions log at debug level, timed, to NAME-N.log there."""
    log_dir = os.environ.get("COLDSTART_LOG_DIR")
    logged = log_dir and not name.startswith("peer")
    results = []
    for i in range(runs):
        log = os.path.join(log_dir, f"{name.split()[0]}-{i}.log") if logged else None
        results.append(run_once(command, env, event, log))
        after()
    for result in results:
        check(result["answer"])
    row = {key: statistics.median(r[key] for r in results)
           for key in ("ready_ms", "answer_ms", "rss_mib")}
    row["name"] = name
    print(f"  {name}: ready {row['ready_ms']:.1f} ms, answered {row['answer_ms']:.1f} ms, "
          f"peak RSS {row['rss_mib']:.1f} MiB (median of {runs})", file=sys.stderr)
    return row, results[-1]["answer"]


def aws_json_call_ms(endpoint, service, json_version, target, body):
    """One AWS JSON-protocol call, alone, on a new connection, timed from connect to the whole
    answer: (milliseconds, status, answer). The SigV4 header has the right shape, which the
    emulators parse, but a dummy signature, which they do not check."""
    url = urllib.parse.urlsplit(endpoint)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    headers = {
        "Content-Type": f"application/x-amz-json-{json_version}",
        "X-Amz-Target": target,
        "X-Amz-Date": stamp,
        "Authorization": f"AWS4-HMAC-SHA256 Credential=test/{stamp[:8]}/us-east-1/{service}/"
                         "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                         f"Signature={'0' * 64}",
    }
    start = time.perf_counter()
    connection = http.client.HTTPConnection(url.hostname, url.port)
    connection.request("POST", "/", json.dumps(body), headers)
    response = connection.getresponse()
    answer = response.read()
    elapsed = (time.perf_counter() - start) * 1000
    connection.close()
    return elapsed, response.status, answer


def dynamodb_read_ms(endpoint, table, access_token):
    """DynamoDB Local on its own: the authorizer's read per request (one strongly consistent
    BatchGetItem of the token's session and user items, here without the projection)."""
    payload = access_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body = {"RequestItems": {table: {"ConsistentRead": True, "Keys": [
        {"pk": {"S": f"session#{claims['sid']}"}}, {"pk": {"S": f"user#{claims['sub']}"}}]}}}
    elapsed, status, answer = aws_json_call_ms(endpoint, "dynamodb", "1.0",
                                               "DynamoDB_20120810.BatchGetItem", body)
    if status != 200 or len(json.loads(answer)["Responses"][table]) != 2:
        sys.exit(f"DynamoDB Local: {status} {answer[:500]!r}")
    return elapsed


def secrets_read_ms(endpoint, secret_id):
    """moto on its own: the verifying functions' one read at init (GetSecretValue of the
    published keys)."""
    elapsed, status, answer = aws_json_call_ms(endpoint, "secretsmanager", "1.1",
                                               "secretsmanager.GetSecretValue",
                                               {"SecretId": secret_id})
    if status != 200 or "SecretString" not in json.loads(answer):
        sys.exit(f"moto: {status} {answer[:500]!r}")
    return elapsed


def event(name, **replace):
    text = (EVENTS / name).read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    return json.loads(text)


def main(target, runs):
    bin_dir = pathlib.Path(target) / "release"
    moto = os.environ["AUTHGATE_TEST_MOTO_ENDPOINT"]
    dynamodb = os.environ["AUTHGATE_TEST_DYNAMODB_ENDPOINT"]
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test",
                            region_name="us-east-1")
    suffix = uuid.uuid4().hex[:8]
    table, signing, public = f"coldstart-{suffix}", f"signing-{suffix}", f"public-{suffix}"
    session.client("dynamodb", endpoint_url=dynamodb).create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    secrets = session.client("secretsmanager", endpoint_url=moto)
    secrets.create_secret(Name=signing, SecretString=json.dumps(
        {"alg": "RS256", "k": "Placeholder0" * 5 + "Seed"}))
    secrets.create_secret(Name=public, SecretString='{"keys": []}')

    cfn = ResponseUrl()
    threading.Thread(target=cfn.serve_forever, daemon=True).start()
    binary = lambda name: [str(bin_dir / name)]
    signers = {"USERS_TABLE": table, "SIGNING_KEY_SECRET_ID": signing}
    verifiers = {"USERS_TABLE": table, "PUBLIC_KEYS_SECRET_ID": public}
    rows = []

    def ok(status):
        return lambda answer: answer.get("statusCode") == status or sys.exit(f"got {answer}")

    setup = event("signing-keys-setup.json")
    setup["ResponseURL"] = f"http://127.0.0.1:{cfn.server_address[1]}/cfn"
    setup["ResourceProperties"]["SigningKeySecretId"] = signing
    row, _ = measure("rotate-key (Custom::SigningKeys: a new RSA-2048 key, published)",
                     binary("rotate-key"), {"PUBLIC_KEYS_SECRET_ID": public}, setup, 1,
                     lambda answer: None)
    if not cfn.answers or cfn.answers[-1]["Status"] != "SUCCESS":
        sys.exit(f"setup failed: {cfn.answers}")
    rows.append(row)
    # The key just made would only verify for 2 hours (see NEW_KEY_SIGNS_AFTER); with no
    # previous version it signs at once.

    register = event("register.json")
    register["body"] = json.dumps({"email": f"cold-{suffix}@example.com",
                                   "password": "correct horse battery staple"})
    row, _ = measure("register", binary("register"), {"USERS_TABLE": table}, register, 1,
                     ok(201))
    rows.append(row)

    login = event("login.json")
    login["body"] = json.dumps({"email": f"cold-{suffix}@example.com",
                                "password": "correct horse battery staple"})
    row, answer = measure("login", binary("login"), signers, login, runs, ok(200))
    rows.append(row)
    tokens = json.loads(answer["body"])

    authorize = event("authorizer.json",
                      REPLACE_WITH_AN_ACCESS_TOKEN=tokens["access_token"])
    allowed = lambda answer: answer.get("policyDocument", {}).get("Statement", [{}])[0].get(
        "Effect") == "Allow" or sys.exit(f"not allowed: {answer}")
    reads, keys = [], []

    def emulators_alone():
        reads.append(dynamodb_read_ms(dynamodb, table, tokens["access_token"]))
        keys.append(secrets_read_ms(moto, public))

    row, _ = measure("authorizer", binary("authorizer"), verifiers, authorize, runs, allowed,
                     emulators_alone)
    rows.append(row)

    refresh = event("refresh.json")
    refresh["body"] = json.dumps({"refresh_token": tokens["refresh_token"]})
    row, _ = measure("refresh", binary("refresh"), signers, refresh, 1, ok(200))
    rows.append(row)

    row, _ = measure("discovery", binary("discovery"), {"PUBLIC_KEYS_SECRET_ID": public},
                     event("jwks.json"), runs, ok(200))
    rows.append(row)

    row, _ = measure("peer: Rust lambda_runtime hello", [str(bin_dir / "examples/hello")],
                     {}, {"hello": "world"}, runs, lambda answer: None)
    rows.append(row)
    row, _ = measure("peer: Python authorizer (boto3, PyJWT)",
                     [sys.executable, str(ROOT / "scripts/peers/python_authorizer.py")],
                     verifiers, authorize, runs, allowed)
    rows.append(row)

    print(f"  DynamoDB Local alone: {statistics.median(reads):.1f} ms per BatchGetItem on a new "
          f"connection (median of {runs})", file=sys.stderr)
    print(f"  moto alone: {statistics.median(keys):.1f} ms per GetSecretValue on a new "
          f"connection (median of {runs})", file=sys.stderr)
    hello = next(row for row in rows if row["name"].startswith("peer: Rust"))
    floor = hello["answer_ms"] + statistics.median(keys) + statistics.median(reads)

    print("| function | start to ready | start to first response | peak RSS |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['name']} | {row['ready_ms']:.1f} ms | {row['answer_ms']:.1f} ms "
              f"| {row['rss_mib']:.1f} MiB |")
    print(f"| peer: DynamoDB Local alone, the authorizer's read (BatchGetItem, new connection) "
          f"| | {statistics.median(reads):.1f} ms | |")
    print(f"| peer: moto alone, the authorizer's key read at init (GetSecretValue, new "
          f"connection) | | {statistics.median(keys):.1f} ms | |")
    print(f"| the emulators' floor for the authorizer: hello's first response + moto's read + "
          f"DynamoDB Local's read (sum of the medians above) | | {floor:.1f} ms | |")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
