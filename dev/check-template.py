"""Checks what template.yaml deploys for each choice of jobs table, by resolving its conditions.

For a new table and for the workers' existing table (keyed by `id`), with the parameters a
deployment passes: the function (arm64) reads that table with that key name, may only `GetItem`
on it, the outputs name it, the stack creates a table only when asked to, and the deployed
function carries no DynamoDB endpoint variable (only `sam local` sets one, through the
`LocalDynamoDbEndpoint` parameter). Exits non-zero with the first difference found.

Usage: python dev/check-template.py [template.yaml]
       python dev/check-template.py --write-existing-table-variant OUT.json [template.yaml]
The second form writes the template with the existing-table choice as its defaults (table
`flickr-jobs`, key `id`), so that cfn-lint and `sam validate --lint` can check that choice too.
"""

import json
import sys

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
        self.conditions = {name: self.value(body) for name, body in template.get("Conditions", {}).items()}
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


def check(template: dict, parameters: dict, *, table: str, key: str, resource: str, creates_table: bool, endpoint=None, arch="arm64"):
    stack = Resolver(template, parameters)
    label = f"parameters {parameters or 'defaults'}"
    function = stack.value(stack.resources["JobStatusFunction"]["Properties"])
    expect(function["Architectures"], [arch], f"{label}: architectures")
    env = function["Environment"]["Variables"]
    expect(env.get("JOBS_TABLE"), table, f"{label}: JOBS_TABLE")
    expect(env.get("JOBS_TABLE_KEY"), key, f"{label}: JOBS_TABLE_KEY")
    expect(env.get("AWS_ENDPOINT_URL_DYNAMODB"), endpoint, f"{label}: AWS_ENDPOINT_URL_DYNAMODB")
    expect(
        function["Policies"],
        [{"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": resource}]}],
        f"{label}: the function's whole IAM policy",
    )
    tables = [name for name, body in stack.resources.items() if body["Type"] == "AWS::DynamoDB::Table"]
    expect(tables, ["JobsTable"] if creates_table else [], f"{label}: tables the stack creates")
    if creates_table:
        properties = stack.value(stack.resources["JobsTable"]["Properties"])
        expect(properties["KeySchema"], [{"AttributeName": key, "KeyType": "HASH"}], f"{label}: key schema")
        expect(properties["AttributeDefinitions"], [{"AttributeName": key, "AttributeType": "S"}], f"{label}: key type")
    outputs = stack.value(template["Outputs"])
    expect(outputs["JobsTableName"]["Value"], table, f"{label}: output JobsTableName")
    expect(outputs["JobsTableKey"]["Value"], key, f"{label}: output JobsTableKey")
    # Everything else resolves too: no reference to a resource this choice leaves out.
    stack.value(stack.resources)
    print(f"ok: {label}: table {table!r}, key {key!r}, GetItem on {resource!r}, endpoint {endpoint!r}")


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
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(template, handle, indent=1)
        return
    template = cfn_yaml.load(args[0] if args else "template.yaml")
    existing_arn = f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/workers-jobs"
    check(template, {}, table="<JobsTable>", key="jobId", resource="<JobsTable.Arn>", creates_table=True)
    check(template, {"JobsTableKey": "id"}, table="<JobsTable>", key="id", resource="<JobsTable.Arn>", creates_table=True)
    check(
        template,
        {"ExistingJobsTableName": "workers-jobs", "JobsTableKey": "id"},
        table="workers-jobs",
        key="id",
        resource=existing_arn,
        creates_table=False,
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
    )


if __name__ == "__main__":
    main()
