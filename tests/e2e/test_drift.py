"""`xrole drift` and GET /v1/drift: execution roles against the needs their workflows declare.
The example roles match their workflows; changing a role or a workflow through `apply` makes
the drift appear (an action granted but not needed, a need no role allows, one a guardrail
denies), and the command's exit status says so (0 none, 1 drift)."""

import fnmatch
import json
import os
import subprocess
import unittest

import xrole_e2e
from xrole_e2e import ServerTestCase

EXAMPLES = os.path.join(xrole_e2e.SOURCE_DIR, "examples", "roles")
# The AWS action catalogue the server finds next to the source tree (scripts/install_deps.sh).
CATALOGUE = os.path.join(xrole_e2e.SOURCE_DIR, "tests", "oracle", "node_modules", "@cloud-copilot",
                         "iam-data", "data")


def example(name):
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as f:
        return f.read()


class DriftTest(ServerTestCase):
    def drift_cli(self, *args, expect):
        env = {k: v for k, v in os.environ.items() if k not in ("XROLE_TOKEN",)}
        env["XROLE_SERVER"] = "http://127.0.0.1:%d" % self.server.port
        env["XROLE_DATA"] = self.server.data_dir
        result = subprocess.run([xrole_e2e.XROLE, "drift"] + list(args), capture_output=True,
                                text=True, env=env, timeout=60)
        self.assertEqual(result.returncode, expect, result.stdout + result.stderr)
        return result

    def findings(self, workflow, kind):
        reply = self.admin.get("/v1/drift?workflow=" + workflow)
        self.assertEqual(reply.status, 200, reply)
        return [f for f in reply.json["findings"] if f["kind"] == kind]

    def test_examples_match_then_changes_drift(self):
        # The shipped roles grant what their workflows declare; two needs are met only under
        # request conditions (the tag on snapshot creation, the dataset prefix).
        reply = self.admin.get("/v1/drift")
        self.assertEqual(reply.status, 200, reply)
        self.assertFalse(reply.json["drift"], reply.json)
        self.assertEqual(reply.json["checked"],
                         ["code-deploy", "data-enrichment", "incident-response", "remediation"])
        conditional = {(f["workflow"], f["action"]) for f in reply.json["findings"]}
        self.assertEqual(conditional, {("incident-response", "ec2:CreateTags"),
                                       ("data-enrichment", "s3:ListBucket")})
        self.assertIn("no drift", self.drift_cli(expect=0).stdout)

        # The role grows an action the workflow never declared.
        grown = example("40-remediation.yaml").replace(
            "Action: [ec2:CreateTags, ec2:DeleteTags]",
            "Action: [ec2:CreateTags, ec2:DeleteTags, ec2:TerminateInstances]")
        self.assertNotEqual(grown, example("40-remediation.yaml"))
        self.assertEqual(self.admin.apply(grown).status, 200)
        excess = self.findings("remediation", "excess")
        self.assertEqual([(f["role"], f["action"], f["statement"]) for f in excess],
                         [("remediation-tagger", "ec2:TerminateInstances",
                           "tag-and-snapshot Statement[0]")])
        out = self.drift_cli("remediation", expect=1).stdout
        self.assertIn("granted, not needed", out)
        self.assertIn("ec2:TerminateInstances", out)

        # The workflow declares needs that no role allows: one simply not granted, one that an
        # organisation guardrail denies outright.
        needy = example("40-remediation.yaml").replace(
            "    - actions: [ec2:CreateSnapshot]\n",
            "    - actions: [ec2:ModifyVolume, ec2:DeleteVolume]\n"
            "      resources: [\"arn:aws:ec2:*:111122223333:volume/*\"]\n"
            "    - actions: [ec2:CreateSnapshot]\n")
        self.assertNotEqual(needy, example("40-remediation.yaml"))
        self.assertEqual(self.admin.apply(needy).status, 200)
        missing = {f["action"]: f["decision"] for f in self.findings("remediation", "missing")}
        self.assertEqual(missing, {"ec2:ModifyVolume": "ImplicitlyDenied",
                                   "ec2:DeleteVolume": "ExplicitlyDenied"})
        self.assertEqual(self.findings("remediation", "excess"), [])  # the role is back as shipped
        self.assertIn("needed, not allowed", self.drift_cli("remediation", expect=1).stdout)
        # Other workflows are unaffected.
        self.assertIn("no drift", self.drift_cli("incident-response", expect=0).stdout)

    @unittest.skipUnless(os.path.isdir(CATALOGUE), "no AWS action catalogue installed")
    def test_patterns_stand_for_the_catalogues_actions(self):
        with open(os.path.join(CATALOGUE, "actions", "ec2.json"), encoding="utf-8") as f:
            ec2 = sorted("ec2:" + a["name"] for a in json.load(f).values())
        shipped = "Action: [ec2:CreateTags, ec2:DeleteTags]"
        self.assertIn(shipped, example("40-remediation.yaml"))
        needed = {"ec2:CreateTags", "ec2:DeleteTags", "ec2:DescribeTags"}  # the workflow's needs

        # `ec2:*Tags` is not a need as written, but every action it stands for is needed.
        self.assertEqual(sorted(a for a in ec2 if fnmatch.fnmatchcase(a.lower(), "ec2:*tags")),
                         sorted(needed))
        role = example("40-remediation.yaml").replace(shipped, "Action: [ec2:*Tags]")
        self.assertEqual(self.admin.apply(role).status, 200)
        self.assertEqual(self.findings("remediation", "excess"), [])

        # `ec2:*Tag*` stands for more: the finding lists exactly the actions no need covers.
        granted = [a for a in ec2 if fnmatch.fnmatchcase(a.lower(), "ec2:*tag*")]
        unneeded = [a for a in granted if a not in needed]
        self.assertTrue(unneeded)
        role = example("40-remediation.yaml").replace(shipped, "Action: [ec2:*Tag*]")
        self.assertEqual(self.admin.apply(role).status, 200)
        excess = self.findings("remediation", "excess")
        self.assertEqual([(f["action"], f["grantedActions"], f["unneededActions"]) for f in excess],
                         [("ec2:*Tag*", len(granted), unneeded)])
        out = self.drift_cli("remediation", expect=1).stdout
        self.assertIn("ec2:*Tag* (%d of %d unneeded: %s" % (len(unneeded), len(granted), unneeded[0]),
                      out)

        # A pattern whose service is a wildcard is compared as written.
        role = example("40-remediation.yaml").replace(shipped, "Action: [\"*:CreateTags\"]")
        self.assertEqual(self.admin.apply(role).status, 200)
        excess = self.findings("remediation", "excess")
        self.assertEqual([(f["action"], "grantedActions" in f) for f in excess],
                         [("*:CreateTags", False)])

    def test_who_may_ask_and_unknown_workflows(self):
        agent = self.server.agent("ir-agent")
        self.assertEqual(agent.get("/v1/drift").status, 403)
        self.assertEqual(self.server.human("alice").get("/v1/drift").status, 200)
        reply = self.admin.get("/v1/drift?workflow=no-such-workflow")
        self.assertEqual(reply.status, 404, reply)
        self.assertIn("no-such-workflow", self.drift_cli("no-such-workflow", expect=1).stderr)


if __name__ == "__main__":
    xrole_e2e.main()
