"""Checks what template.yaml deploys for each choice of jobs table, by resolving its conditions.

For a new table and for the workers' existing table (keyed by `id`), with the parameters a
deployment passes: the function (arm64) reads that table with that key name, may only `GetItem`
and `BatchGetItem` on it and `Query` on its one user index (the stack's own `jobs-by-user`, the
workers' named index, or with none named no `Query` at all and no `JOBS_USER_INDEX`), the
new table has that index (user_id + created_at, projecting the summary), the outputs name it, the stack creates a table only when asked to, and the deployed
function carries no DynamoDB endpoint variable (only `sam local` sets one, through the
`LocalDynamoDbEndpoint` parameter). Exits non-zero with the first difference found.

Usage: python dev/check-template.py [template.yaml]
       python dev/check-template.py --write-existing-table-variant OUT.json [template.yaml]
The second form writes the template with the existing-table choice as its defaults (table
`flickr-jobs`, key `id`, the workers' index `jobs-by-user`), so that cfn-lint and `sam validate --lint` can check that choice too.
"""

import json
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"
NO_VALUE = object()


class Resolver:
    """Evaluates the few intrinsic functions the template uses, for one set of parameters.

    A `Ref` or `GetAtt` of a resource becomes a readable placeholder (`<JobsTable>`,
    `<JobsTable.Arn>`), and one of a resource the conditions left out is an error, as in
    CloudFormation.
    """

    def __init__(self, template: dict, parameters: dict):
        self.template = template
        self.parameters = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
        unknown = set(parameters) - set(self.parameters)
        if unknown:
            raise SystemExit(f"unknown parameters {sorted(unknown)}")
        self.parameters.update(parameters)
        # In order, so that a condition may name one defined before it.
        self.conditions = {}
        for name, body in template.get("Conditions", {}).items():
            self.conditions[name] = self.value(body)
        self.resources = {
            name: body
            for name, body in template["Resources"].items()
            if "Condition" not in body or self.conditions[body["Condition"]]
        }

    def ref(self, name: str) -> str:
        pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION, "AWS::URLSuffix": "amazonaws.com"}
        if name in self.parameters:
            return self.parameters[name]
        if name in pseudo:
            return pseudo[name]
        if name in self.resources:
            return f"<{name}>"
        raise SystemExit(f"Ref to {name}, which this choice of parameters does not create")

    def value(self, node):
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)
            if key == "Fn::If":
                name, then, otherwise = arg
                return self.value(then if self.conditions[name] else otherwise)
            if key == "Fn::Equals":
                left, right = (self.value(v) for v in arg)
                return left == right
            if key == "Fn::Join":
                separator, items = arg
                items = self.value(items)
                # a Ref to a CommaDelimitedList parameter resolves to its text, already joined
                return items if isinstance(items, str) else separator.join(str(item) for item in items)
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(v) for v in arg)
            if key == "Condition":
                return self.conditions[arg]
            if key == "Fn::GetAtt":
                resource, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                self.ref(resource)
                return f"<{resource}.{attribute}>"
            if key == "Fn::Sub":
                text = arg
                while "${" in text:
                    start = text.index("${")
                    end = text.index("}", start)
                    name = text[start + 2 : end]
                    text = text[:start] + (self.ref(name) if "." not in name else f"<{name}>") + text[end + 1 :]
                return text
        resolved = {key: self.value(v) for key, v in node.items()}
        return {key: v for key, v in resolved.items() if v is not NO_VALUE}


SUMMARY_ATTRIBUTES = ["state", "target", "failedReason", "progress", "attempts", "updated_at", "expires_at"]


def check(template: dict, parameters: dict, *, table: str, key: str, resource: str, creates_table: bool, endpoint=None, arch="arm64", index=None):
    stack = Resolver(template, parameters)
    label = f"parameters {parameters or 'defaults'}"
    function = stack.value(stack.resources["JobStatusFunction"]["Properties"])
    expect(function["Architectures"], [arch], f"{label}: architectures")
    env = function["Environment"]["Variables"]
    expect(env.get("JOBS_TABLE"), table, f"{label}: JOBS_TABLE")
    expect(env.get("JOBS_TABLE_KEY"), key, f"{label}: JOBS_TABLE_KEY")
    expect(env.get("AWS_ENDPOINT_URL_DYNAMODB"), endpoint, f"{label}: AWS_ENDPOINT_URL_DYNAMODB")
    expect(env.get("JOBS_USER_INDEX"), index, f"{label}: JOBS_USER_INDEX")
    statements = [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem"], "Resource": resource}]
    if index is not None:
        statements.append({"Effect": "Allow", "Action": "dynamodb:Query", "Resource": f"{resource}/index/{index}"})
    expect(function["Policies"], [{"Statement": statements}], f"{label}: the function's whole IAM policy")
    tables = [name for name, body in stack.resources.items() if body["Type"] == "AWS::DynamoDB::Table"]
    expect(tables, ["JobsTable"] if creates_table else [], f"{label}: tables the stack creates")
    if creates_table:
        properties = stack.value(stack.resources["JobsTable"]["Properties"])
        expect(properties["KeySchema"], [{"AttributeName": key, "KeyType": "HASH"}], f"{label}: key schema")
        expect(
            properties["AttributeDefinitions"],
            [
                {"AttributeName": key, "AttributeType": "S"},
                {"AttributeName": "user_id", "AttributeType": "S"},
                {"AttributeName": "created_at", "AttributeType": "N"},
            ],
            f"{label}: key types",
        )
        expect(
            properties["GlobalSecondaryIndexes"],
            [
                {
                    "IndexName": index,
                    "KeySchema": [
                        {"AttributeName": "user_id", "KeyType": "HASH"},
                        {"AttributeName": "created_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": SUMMARY_ATTRIBUTES},
                }
            ],
            f"{label}: the user index",
        )
    outputs = stack.value(template["Outputs"])
    expect(outputs["JobsTableName"]["Value"], table, f"{label}: output JobsTableName")
    expect(outputs["JobsTableKey"]["Value"], key, f"{label}: output JobsTableKey")
    # Everything else resolves too: no reference to a resource this choice leaves out.
    stack.value(stack.resources)
    print(f"ok: {label}: table {table!r}, key {key!r}, GetItem+BatchGetItem on {resource!r}, Query on index {index!r}, endpoint {endpoint!r}")


def check_identity_routes(template: dict):
    """With the JWT authorizer, the identity routes have it (GET /jobs and POST /jobs/batch
    among them); the original POST and /result never do; without it, no route has one."""
    guarded = {"JobStatus", "ShareJob", "ListJobs", "BatchJobs"}
    for parameters, has in [({}, False), ({"JwtAuthorizerIssuer": "https://issuer", "JwtAuthorizerAudience": "app"}, True)]:
        stack = Resolver(template, parameters)
        events = stack.value(stack.resources["JobStatusFunction"]["Properties"])["Events"]
        for name, event in events.items():
            wanted = "JwtAuthorizer" if has and name in guarded else "NONE"
            expect(event["Properties"]["Auth"]["Authorizer"], wanted, f"{parameters or 'defaults'}: authorizer of {name}")
        routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events.values()}
        for route in [("GET", "/api/v1/flickr/jobs"), ("POST", "/api/v1/flickr/jobs/batch")]:
            expect(route in routes, True, f"route {route}")
    print(f"ok: the JWT authorizer guards {sorted(guarded)} when configured")


def check_wait(template: dict):
    """Prefer: wait: the function's timeout covers the longest wait, its answer margin and a read's
    three attempts (DynamoDbTimeoutMs each, 0.5 s of backoff); the wait stays under the HTTP API's
    30 s; browsers may send Prefer and If-None-Match and read Preference-Applied and ETag."""
    parameters = template["Parameters"]
    expect(int(parameters["WaitMaxSeconds"]["MaxValue"]) <= 25, True, "WaitMaxSeconds MaxValue at most 25")
    expect(int(parameters["FunctionTimeout"]["MaxValue"]) <= 29, True, "FunctionTimeout MaxValue at most 29")
    stack = Resolver(template, {})
    function = stack.value(stack.resources["JobStatusFunction"]["Properties"])
    env = function["Environment"]["Variables"]
    wait_max, read_ms = int(env["WAIT_MAX_SECONDS"]), int(env["DYNAMODB_TIMEOUT_MS"])
    expect(int(env["WAIT_POLL_INTERVAL_MS"]), 500, "WAIT_POLL_INTERVAL_MS by default")
    needed = wait_max + 1 + (3 * read_ms + 500) / 1000
    timeout = int(function["Timeout"])
    expect(timeout >= needed, True, f"function timeout {timeout} s covering the {wait_max} s wait + 1 s + the read ({needed} s)")
    cors = stack.value(stack.resources["JobsApi"]["Properties"])["CorsConfiguration"]
    for header in ["prefer", "if-none-match"]:
        expect(header in cors["AllowHeaders"], True, f"CORS AllowHeaders has {header}")
    for header in ["preference-applied", "etag"]:
        expect(header in cors["ExposeHeaders"], True, f"CORS ExposeHeaders has {header}")
    print(f"ok: waits of up to {wait_max} s fit the {timeout} s function timeout; CORS allows Prefer")


def check_memory_size(template: dict, measured_path: Path):
    """Classic Lambda deploys the MemorySize parameter, whose default is the size that
    ./dev/bench --memory chose by the written rule (docs/performance.md#which-memory-size) from
    the figures committed in docs/memory-sizes.json: one of the measured sizes, and that one."""
    measured = json.loads(measured_path.read_text(encoding="utf-8"))
    default = template["Parameters"]["MemorySize"]["Default"]
    if default not in measured["sizes_mb"]:
        raise SystemExit(f"template check failed: MemorySize default {default} is not a measured size {measured['sizes_mb']}")
    expect(default, measured["choice"]["memory_mb"], f"MemorySize default (the rule's choice in {measured_path.name})")
    function = Resolver(template, {}).value(template["Resources"]["JobStatusFunction"]["Properties"])
    expect(function["MemorySize"], str(default), "classic Lambda's MemorySize")
    managed = {"ManagedInstancesSubnetIds": "subnet-a,subnet-b,subnet-c", "ManagedInstancesSecurityGroupIds": "sg-a"}
    function = Resolver(template, managed).value(template["Resources"]["JobStatusFunction"]["Properties"])
    wanted = str(template["Parameters"]["ManagedInstancesMemorySize"]["Default"])
    expect(function["MemorySize"], wanted, "MemorySize on Managed Instances (ManagedInstancesMemorySize)")
    print(f"ok: MemorySize default {default} MB, the rule's choice among {measured['sizes_mb']}")


def expect(actual, wanted, what: str):
    if actual != wanted:
        raise SystemExit(f"template check failed: {what} is {actual!r}, expected {wanted!r}")


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--write-existing-table-variant"]:
        out, path = args[1], (args[2] if len(args) > 2 else "template.yaml")
        template = cfn_yaml.load(path)
        template["Parameters"]["ExistingJobsTableName"]["Default"] = "flickr-jobs"
        template["Parameters"]["JobsTableKey"]["Default"] = "id"
        template["Parameters"]["ExistingJobsUserIndexName"]["Default"] = "jobs-by-user"
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(template, handle, indent=1)
        return
    template = cfn_yaml.load(args[0] if args else "template.yaml")
    check_wait(template)
    existing_arn = f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/workers-jobs"
    check_identity_routes(template)
    own = "jobs-by-user"
    check(template, {}, table="<JobsTable>", key="jobId", resource="<JobsTable.Arn>", creates_table=True, index=own)
    check(template, {"JobsTableKey": "id"}, table="<JobsTable>", key="id", resource="<JobsTable.Arn>", creates_table=True, index=own)
    # The index parameter names the workers' index, and means nothing with a table of the stack.
    check(
        template,
        {"ExistingJobsUserIndexName": "theirs"},
        table="<JobsTable>",
        key="jobId",
        resource="<JobsTable.Arn>",
        creates_table=True,
        index=own,
    )
    check(
        template,
        {"ExistingJobsTableName": "workers-jobs", "JobsTableKey": "id"},
        table="workers-jobs",
        key="id",
        resource=existing_arn,
        creates_table=False,
    )
    check(
        template,
        {"ExistingJobsTableName": "workers-jobs", "JobsTableKey": "id", "ExistingJobsUserIndexName": "by-user"},
        table="workers-jobs",
        key="id",
        resource=existing_arn,
        creates_table=False,
        index="by-user",
    )
    # Only with this parameter set is an endpoint variable declared; dev/sam-local builds x86_64.
    check(
        template,
        {"LocalDynamoDbEndpoint": "http://172.17.0.1:5000", "Architecture": "x86_64"},
        table="<JobsTable>",
        key="jobId",
        resource="<JobsTable.Arn>",
        creates_table=True,
        endpoint="http://172.17.0.1:5000",
        arch="x86_64",
        index=own,
    )
    check_memory_size(template, Path(__file__).resolve().parents[1] / "docs" / "memory-sizes.json")


if __name__ == "__main__":
    main()
