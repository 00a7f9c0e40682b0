"""`xrole export aws` (docs/aws-export.md) run as a real command on examples/roles: every role is
exported, every exported policy passes `xrole lint`, the output is deterministic, and — where
the tools are installed — the AWS SDK's own input validation accepts the API inputs, cfn-lint
accepts the CloudFormation templates and Terraform evaluates the modules' policies to exactly
the JSON files."""

import filecmp
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import xrole_e2e

ROLES = ["deploy-production", "deploy-staging", "enrich-reader-writer", "incident-responder",
         "remediation-tagger"]
EXAMPLES = os.path.join(xrole_e2e.SOURCE_DIR, "examples", "roles")
ORG = os.path.join(EXAMPLES, "00-org.yaml")

# Policy variables, template-like text and control characters, which Terraform must keep as
# IAM text (`${...}` and `%{...}` would otherwise be interpolated).
VARIABLES_ROLE = r"""apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: scratch}
spec:
  description: "per-run scratch, %{not a directive}\ttab \"quoted\" back\\slash"
  trust: {agents: [code-agent], workflows: [scratch-work]}
  permissions:
    - name: own-prefix
      policy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: [s3:GetObject, s3:PutObject]
            Resource: "arn:aws:s3:::scratch/${xrole:RunId}/${aws:username}/*"
            Condition:
              StringLike: {s3:prefix: ["${xrole:Workflow}/*", "%{x}"]}
---
apiVersion: xrole/v1
kind: Workflow
metadata: {name: scratch-work}
spec: {roles: [scratch]}
"""


def run(command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)


def jsonencode_arguments(text):
    """The argument texts of every `jsonencode(...)` call in HCL `text`."""
    found = []
    start = text.find("jsonencode(")
    while start != -1:
        i = start + len("jsonencode(")
        depth, in_string, begin = 1, False, i
        while depth:
            c = text[i]
            if in_string:
                if c == "\\":
                    i += 1
                elif c == '"':
                    in_string = False
            elif c == '"':
                in_string = True
            elif c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
            i += 1
        found.append(text[begin:i - 1])
        start = text.find("jsonencode(", i)
    return found


class ExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="xrole-export-e2e-")
        cls.out = os.path.join(cls.tmp, "out")
        cls.first = cls.export("-f", EXAMPLES, "--out", cls.out)
        with open(os.path.join(cls.out, "index.json")) as f:
            cls.index = json.load(f)
        role_file = os.path.join(cls.tmp, "scratch.yaml")
        with open(role_file, "w") as f:
            f.write(VARIABLES_ROLE)
        cls.variables_out = os.path.join(cls.tmp, "variables")
        cls.export("-f", ORG, "-f", role_file, "--out", cls.variables_out)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def export(cls, *args, expect=0):
        result = run([xrole_e2e.XROLE, "export", "aws"] + list(args))
        if result.returncode != expect:
            raise AssertionError("xrole export aws %s: exit %d\nstdout: %s\nstderr: %s" %
                                 (" ".join(args), result.returncode, result.stdout,
                                  result.stderr))
        return result

    def policy_files(self, out=None):
        """(role, path, kind, use, awsName) of every policy document exported to `out`."""
        out = out or self.out
        with open(os.path.join(out, "index.json")) as f:
            index = json.load(f)
        for role in index["roles"]:
            for f in role["files"]:
                if "kind" in f:
                    yield (role["name"], os.path.join(out, role["name"], f["path"]),
                           f["kind"], f["use"], f["awsName"])

    def read_json(self, *parts):
        with open(os.path.join(self.out, *parts)) as f:
            return json.load(f)

    def test_every_role_is_exported(self):
        self.assertEqual(sorted(r["name"] for r in self.index["roles"]), ROLES)
        self.assertIn("exported 5 roles", self.first.stdout)
        for role in self.index["roles"]:
            for f in role["files"]:
                self.assertTrue(os.path.isfile(os.path.join(self.out, role["name"], f["path"])),
                                f)
            names = {f["path"] for f in role["files"]}
            self.assertTrue({"role.json", "trust-policy.json", "cloudformation.yaml", "main.tf",
                             "revoke-run.json", "revoke-issued-before.json"} <= names, names)
        self.assertTrue(os.path.isfile(os.path.join(self.out, "README.md")))
        self.assertTrue(os.path.isfile(os.path.join(self.out, "deploy-production",
                                                    "boundary.json")))

    def test_every_exported_policy_passes_xrole_lint(self):
        files = list(self.policy_files())
        self.assertGreaterEqual(len(files), 5 * 6)
        files += list(self.policy_files(self.variables_out))
        # One lint run per policy kind (each run loads the action catalogue once).
        by_kind = {}
        for _, path, kind, _, _ in files:
            by_kind.setdefault(kind, []).append(path)
        for kind, paths in sorted(by_kind.items()):
            result = run([xrole_e2e.XROLE, "lint", "--kind", kind, "--format", "json"] + paths)
            self.assertEqual(result.returncode, 0, "%s\n%s%s" % (kind, result.stdout,
                                                                 result.stderr))
            errors = [f for f in json.loads(result.stdout) if f["severity"] == "error"]
            self.assertEqual(errors, [], kind)
        # Without --kind the linter recognises trust, identity and revocation documents itself.
        detected = [path for _, path, _, use, _ in files if use in ("trust", "inline", "revocation")]
        result = run([xrole_e2e.XROLE, "lint"] + detected)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_trust_and_revocation_documents(self):
        trust = self.read_json("incident-responder", "trust-policy.json")
        statement = trust["Statement"][0]
        self.assertEqual(statement["Action"],
                         ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"])
        self.assertEqual(statement["Principal"]["AWS"],
                         ["arn:aws:iam::111122223333:user/xrole/agent/ir-agent"])
        self.assertEqual(statement["Condition"]["Null"]["aws:RequestTag/xrole-run"], "false")
        self.assertEqual(statement["Condition"]["StringEquals"]["aws:RequestTag/xrole-workflow"],
                         ["incident-response"])
        revoke = self.read_json("incident-responder", "revoke-run.json")["Statement"][0]
        self.assertEqual(revoke["Effect"], "Deny")
        self.assertEqual(revoke["Condition"]["StringEquals"],
                         {"aws:PrincipalTag/xrole-run": "REPLACE_WITH_RUN_ID"})
        older = self.read_json("incident-responder", "revoke-issued-before.json")["Statement"][0]
        self.assertIn("aws:TokenIssueTime", older["Condition"]["DateLessThan"])

    def test_output_is_deterministic(self):
        again = os.path.join(self.tmp, "again")
        self.export("-f", EXAMPLES, "--out", again)
        compared = 0
        for root, _, names in os.walk(self.out):
            for name in names:
                path = os.path.join(root, name)
                other = os.path.join(again, os.path.relpath(path, self.out))
                self.assertTrue(filecmp.cmp(path, other, shallow=False), other)
                compared += 1
        self.assertGreater(compared, 40)
        # Exporting over an earlier export leaves the same tree: stale files are removed.
        stale = os.path.join(again, "deploy-staging", "policy-gone.json")
        with open(stale, "w") as f:
            f.write("{}")
        self.export("-f", EXAMPLES, "--out", again)
        self.assertFalse(os.path.exists(stale))

    def test_role_filter_format_and_errors(self):
        out = os.path.join(self.tmp, "filtered")
        self.export("-f", EXAMPLES, "deploy-staging", "--out", out, "--format", "json")
        self.assertEqual(sorted(os.listdir(out)), ["README.md", "deploy-staging", "index.json"])
        names = os.listdir(os.path.join(out, "deploy-staging"))
        self.assertIn("role.json", names)
        self.assertFalse([n for n in names if n.endswith((".yaml", ".tf"))], names)

        unknown = self.export("-f", EXAMPLES, "--out", os.path.join(self.tmp, "u"), "no-such-role",
                              expect=2)
        self.assertIn("unknown execution role `no-such-role`", unknown.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "u")))
        missing = self.export("-f", os.path.join(self.tmp, "nothing.yaml"), expect=2)
        self.assertIn("cannot read", missing.stderr)
        bad_format = self.export("-f", EXAMPLES, "--format", "pulumi", expect=2)
        self.assertIn("pulumi", bad_format.stderr)

    def test_aws_sdk_accepts_the_api_inputs(self):
        try:
            import botocore.session
            from botocore.validate import ParamValidator
        except ImportError:
            self.skipTest("botocore is not installed")
        session = botocore.session.get_session()
        iam = session.get_service_model("iam")
        organizations = session.get_service_model("organizations")
        validator = ParamValidator()

        def check(model, operation, params):
            report = validator.validate(params, model.operation_model(operation).input_shape)
            self.assertFalse(report.has_errors(), "%s: %s" % (operation,
                                                              report.generate_report()))

        for role in ROLES:
            with open(os.path.join(self.out, role, "trust-policy.json")) as f:
                trust = f.read()
            create_role = self.read_json(role, "role.json")
            create_role["AssumeRolePolicyDocument"] = trust
            check(iam, "CreateRole", create_role)
        for role, path, kind, use, name in self.policy_files():
            with open(path) as f:
                document = f.read()
            if use in ("inline", "revocation"):
                check(iam, "PutRolePolicy",
                      {"RoleName": role, "PolicyName": name, "PolicyDocument": document})
            elif use == "boundary":
                check(iam, "CreatePolicy",
                      {"PolicyName": name, "Path": "/xrole/", "PolicyDocument": document})
            elif use in ("scp", "rcp"):
                check(organizations, "CreatePolicy",
                      {"Name": name, "Description": "xrole guardrail", "Content": document,
                       "Type": "SERVICE_CONTROL_POLICY" if use == "scp"
                       else "RESOURCE_CONTROL_POLICY"})

    def test_aws_cli_takes_the_documented_create_role_command(self):
        if shutil.which("aws") is None:
            self.skipTest("the AWS CLI is not installed")
        # An unreachable endpoint: the CLI parses and validates everything, then fails to connect.
        env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
                   AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
                   AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true",
                   AWS_MAX_ATTEMPTS="1", AWS_RETRY_MODE="standard")
        env.pop("AWS_PROFILE", None)
        for role in ROLES:
            result = run(["aws", "iam", "create-role", "--cli-input-json", "file://role.json",
                          "--assume-role-policy-document", "file://trust-policy.json",
                          "--endpoint-url", "http://127.0.0.1:9", "--cli-connect-timeout", "1",
                          "--cli-read-timeout", "1"],
                         cwd=os.path.join(self.out, role), env=env)
            self.assertNotIn("validation", result.stderr.lower(), role)
            self.assertIn("Could not connect to the endpoint URL", result.stderr, role)

    def test_cloudformation_templates_pass_cfn_lint(self):
        if shutil.which("cfn-lint") is None:
            self.skipTest("cfn-lint is not installed")
        templates = [os.path.join(self.out, role, "cloudformation.yaml") for role in ROLES]
        result = run(["cfn-lint"] + templates)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_terraform_modules_are_canonical_and_carry_the_policies(self):
        if shutil.which("terraform") is None:
            self.skipTest("terraform is not installed")
        env = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
        for out in (self.out, self.variables_out):
            result = run(["terraform", "fmt", "-check", "-diff", "-recursive", out], env=env)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        for out, role in [(self.out, role) for role in ROLES] + [(self.variables_out, "scratch")]:
            with open(os.path.join(out, role, "main.tf")) as f:
                expressions = jsonencode_arguments(f.read())
            expected = []
            for r, path, _, use, _ in self.policy_files(out):
                if r == role and use in ("trust", "inline", "boundary"):
                    with open(path) as f:
                        expected.append(json.dumps(json.load(f), sort_keys=True))
            self.assertEqual(len(expressions), len(expected), role)
            # Terraform itself evaluates each policy (locals need no provider).
            work = tempfile.mkdtemp(dir=self.tmp)
            with open(os.path.join(work, "locals.tf"), "w") as f:
                f.write("locals {\n  policies = [\n")
                for expression in expressions:
                    f.write("    jsonencode(%s),\n" % expression)
                f.write("  ]\n}\n")
            console = run(["terraform", "console"], cwd=work, env=env,
                          input="jsonencode(local.policies)\n")
            self.assertEqual(console.returncode, 0, console.stdout + console.stderr)
            lines = [line for line in console.stdout.splitlines() if line.startswith('"')]
            self.assertEqual(len(lines), 1, console.stdout)
            values = [json.loads(text) for text in json.loads(json.loads(lines[0]))]
            self.assertEqual(sorted(json.dumps(v, sort_keys=True) for v in values),
                             sorted(expected), role)

if __name__ == "__main__":
    xrole_e2e.main()
