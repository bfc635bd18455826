"""Creates the jobs table on a DynamoDB-compatible server and loads records into it.

Usage: python dev/seed.py --endpoint http://127.0.0.1:PORT --table NAME [--user-index INDEX] FILE.json [FILE.json ...]
Each file holds a list of items in DynamoDB's typed JSON ({"jobId": {"S": "..."}, ...}).
Works against any DynamoDB-compatible endpoint (moto, dynalite, DynamoDB Local, DynamoDB
itself): a new table is written to only once it is ACTIVE, which only moto makes it at once.
With --user-index, a new table gets the index of GET /jobs as template.yaml creates it (user_id +
created_at, projecting the summary's attributes). DynamoDB then refuses items whose user_id is
not S or whose created_at is not N, as it would in the workers' indexed table: the fixtures of
tests/fixtures/records.json that test such records belong in a table without the index.
"""

import argparse
import base64
import json
import os
import time

import boto3
from botocore.exceptions import ClientError

# Real DynamoDB takes seconds to create a table, dynalite half a second, moto none.
ACTIVE_TIMEOUT_SECONDS = 120
# What the index of GET /jobs projects besides its keys (template.yaml, JobsTable).
SUMMARY_ATTRIBUTES = ["state", "target", "failedReason", "progress", "attempts", "updated_at", "expires_at"]


def attribute(value: dict) -> dict:
    """Binary attributes are written as base64 text in the files; boto3 wants the bytes."""
    ((kind, payload),) = value.items()
    if kind == "B":
        return {kind: base64.b64decode(payload)}
    if kind == "BS":
        return {kind: [base64.b64decode(p) for p in payload]}
    if kind == "M":
        return {kind: {name: attribute(v) for name, v in payload.items()}}
    if kind == "L":
        return {kind: [attribute(v) for v in payload]}
    return value


def wait_until_active(client, table: str) -> None:
    """Polls DescribeTable until the table is ACTIVE (writes to a CREATING table are refused)."""
    deadline = time.monotonic() + ACTIVE_TIMEOUT_SECONDS
    while True:
        status = client.describe_table(TableName=table)["Table"]["TableStatus"]
        if status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"table {table!r} is still {status} after {ACTIVE_TIMEOUT_SECONDS} s")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"), required=False)
    parser.add_argument("--table", required=True)
    parser.add_argument("--user-index", help="create a new table with this user index (GET /jobs)")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    if not args.endpoint:
        parser.error("--endpoint or AWS_ENDPOINT_URL_DYNAMODB is required")

    client = boto3.client("dynamodb", endpoint_url=args.endpoint)
    if args.table not in client.list_tables()["TableNames"]:
        definitions = [{"AttributeName": "jobId", "AttributeType": "S"}]
        extra = {}
        if args.user_index:
            definitions += [
                {"AttributeName": "user_id", "AttributeType": "S"},
                {"AttributeName": "created_at", "AttributeType": "N"},
            ]
            extra["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": args.user_index,
                    "KeySchema": [
                        {"AttributeName": "user_id", "KeyType": "HASH"},
                        {"AttributeName": "created_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": SUMMARY_ATTRIBUTES},
                }
            ]
        client.create_table(
            TableName=args.table,
            KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
            AttributeDefinitions=definitions,
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
    wait_until_active(client, args.table)
    count = 0
    for path in args.files:
        with open(path, encoding="utf-8") as handle:
            for item in json.load(handle):
                try:
                    client.put_item(TableName=args.table, Item={name: attribute(v) for name, v in item.items()})
                except ClientError as error:
                    # A value the server refuses (DynamoDB does too): name the record, not a traceback.
                    key = item.get("jobId", {}).get("S", "?")
                    raise SystemExit(f"{path}: record {key[:80]!r} refused: {error}") from None
                count += 1
    print(f"seeded {count} job records into table {args.table!r} at {args.endpoint}")


if __name__ == "__main__":
    main()
