"""Where the authorizer's cold start goes, read from its own timed debug logs.

`COLDSTART_LOG_DIR=DIR scripts/coldstart` leaves one log per authorizer start in
DIR/authorizer-N.log, every line starting with the seconds since the process began logging
(AUTHGATE_LOG_UPTIME). This prints, as medians over those starts, the time each phase took
between the log lines that bound it. The logs are taken at debug level, so the process is a
little slower than in the harness's plain runs.

Usage: coldstart_breakdown.py DIR
"""
import pathlib
import re
import statistics
import sys

# (mark, pattern): the time of the first log line matching each pattern.
MARKS = [
    ("config", r"aws_sdk_sts::endpoint_lib: loading default partitions"),
    ("sdk_clients", r"aws_sdk_dynamodb::endpoint_lib: loading default partitions"),
    ("sm_connect", r"GetSecretValue.*connected to"),
    ("sm_answer", r"GetSecretValue.*entering 'before deserialization'"),
    ("keys", r"published public keys loaded"),
    ("event", r"Lambda runtime invoke"),
    ("ddb_connect", r"BatchGetItem.*connected to"),
    ("ddb_answer", r"BatchGetItem.*entering 'before deserialization'"),
    ("decided", r"authorizer: allowed"),
]
# (label, mark it starts at (None: logging's start), mark it ends at).
PHASES = [
    ("logging start -> SDK configuration read (env, profile files)", None, "config"),
    ("-> SDK clients built (the SDK's HTTP client, its root certificate store loaded)",
     "config", "sdk_clients"),
    ("-> connected to Secrets Manager (moto)", "sdk_clients", "sm_connect"),
    ("-> moto's answer to GetSecretValue", "sm_connect", "sm_answer"),
    ("-> keys parsed", "sm_answer", "keys"),
    ("-> the first event in hand (ready, /next answered)", "keys", "event"),
    ("-> connected to DynamoDB (token verified, request signed)", "event", "ddb_connect"),
    ("-> DynamoDB Local's answer to BatchGetItem", "ddb_connect", "ddb_answer"),
    ("-> decided (session read, policy built)", "ddb_answer", "decided"),
]
LINE = re.compile(r"^\s*([0-9.]+)s\s")


def marks(path):
    found = {}
    for line in path.read_text().splitlines():
        stamp = LINE.match(line)
        if not stamp:
            continue
        for name, pattern in MARKS:
            if name not in found and re.search(pattern, line):
                found[name] = float(stamp.group(1)) * 1000
    return found


def main(directory):
    logs = sorted(pathlib.Path(directory).glob("authorizer-*.log"))
    runs = [marks(path) for path in logs]
    runs = [run for run in runs if len(run) == len(MARKS)]
    if not runs:
        sys.exit(f"no complete authorizer log in {directory}")
    print(f"| phase of the authorizer's cold start (median of {len(runs)}, ms) | took | at |")
    print("| --- | --- | --- |")
    for label, begin, end in PHASES:
        took = statistics.median(r[end] - (r[begin] if begin else 0.0) for r in runs)
        at = statistics.median(r[end] for r in runs)
        print(f"| {label} | {took:.2f} | {at:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1])
