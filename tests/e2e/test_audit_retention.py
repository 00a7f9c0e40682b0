"""Audit retention end to end: `xrole audit prune` archives the oldest records to a file, then
removes them from the live log (the database table and the segment files); the chain still
verifies, online, offline and after a restart, because a checkpoint signed at the cut anchors it
and an `audit.prune` record in the chain names the cut. The archive verifies on its own with
scripts/audit_verify.py. Records removed without a recorded prune are still a gap, and a chain
that does not verify is never pruned.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import xrole_e2e
from tamper_test import Chain
from test_offboard import EXIT_ERROR, EXIT_OK, CliMixin

INSTANCE = "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"
VERIFY_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                             "audit_verify.py")


def activity(server, decisions):
    """A run, an assume and `decisions` authorize calls: records in both places."""
    agent = server.agent("ir-agent")
    admin = server.admin()
    run = agent.start_run("incident-response").json["runId"]
    session = agent.assume("incident-responder", run)
    token = session.json["credentials"]["sessionToken"]
    for i in range(decisions):
        action = ("ec2:StopInstances", "ec2:DeleteSnapshot")[i % 2]
        assert admin.authorize(token, action, INSTANCE).status == 200


class RetentionTest(CliMixin, xrole_e2e.ServerTestCase):
    def setUp(self):
        self.scratch = tempfile.mkdtemp(prefix="xrole-e2e-retention-")
        self.addCleanup(shutil.rmtree, self.scratch, True)

    def test_prune_archives_removes_and_the_chain_still_verifies(self):
        activity(self.server, 12)
        records = self.admin.audit_records()
        cut = records[len(records) // 2]["seq"]
        with sqlite3.connect(os.path.join(self.server.data_dir, "xrole.db")) as db:
            in_table = db.execute("SELECT COUNT(*) FROM audit_log WHERE seq <= ?",
                                  (cut,)).fetchone()[0]
        db.close()
        self.assertGreater(in_table, 0)  # state changes before the cut, in the table
        cut_hash = records[len(records) // 2]["hash"]

        dry = json.loads(self.xrole("audit", "prune", "--through", str(cut), "--dry-run",
                                    "--output", "json").stdout)
        self.assertEqual((dry["firstSeq"], dry["throughSeq"], dry["hash"], dry["records"]),
                         (records[0]["seq"], cut, cut_hash, cut - records[0]["seq"] + 1))
        self.assertEqual(self.admin.audit_records()[0]["seq"], records[0]["seq"])
        refused = self.xrole("audit", "prune", "--through", str(cut), expect=EXIT_ERROR)
        self.assertIn("--archive", refused.stderr)

        archive = os.path.join(self.scratch, "audit-archive.jsonl")
        done = self.xrole("audit", "prune", "--through", str(cut), "--archive", archive)
        self.assertIn("removed %d audit records" % dry["records"], done.stdout)

        # The archive is exactly the removed records, and verifies on its own against the cut.
        with open(archive, encoding="ascii") as lines:
            archived = [json.loads(line) for line in lines]
        self.assertEqual([r["seq"] for r in archived], [r["seq"] for r in records[:len(archived)]])
        self.assertEqual(archived[-1]["seq"], cut)
        script = subprocess.run([sys.executable, VERIFY_SCRIPT, archive, "--pin",
                                 "%d:%s" % (cut, cut_hash)], capture_output=True, text=True)
        self.assertEqual(script.returncode, 0, script)

        # The live log starts after the cut and names it.
        live = self.admin.audit_records()
        self.assertEqual(live[0]["seq"], cut + 1)
        self.assertEqual(live[0]["prevHash"], cut_hash)
        prunes = [r for r in live if r["type"] == "audit.prune"]
        self.assertEqual(len(prunes), 1)
        self.assertEqual(prunes[0]["event"]["details"]["throughSeq"], cut)
        self.assertEqual(prunes[0]["event"]["details"]["hash"], cut_hash)
        verify = self.admin.verify_audit()
        self.assertStatus(verify, 200)
        self.assertTrue(verify.json["ok"])
        self.assertEqual(verify.json["prunedThrough"], cut)
        with sqlite3.connect(os.path.join(self.server.data_dir, "xrole.db")) as db:
            self.assertEqual(db.execute("SELECT COUNT(*) FROM audit_log WHERE seq <= ?",
                                        (cut,)).fetchone()[0], 0)
        db.close()

        # The same cut again, or one before it, is refused; nothing is older than a day.
        self.assertStatus(self.admin.post("/v1/audit/prune", {"throughSeq": cut}), 400)
        self.assertStatus(self.admin.post("/v1/audit/prune", {"olderThanDays": 1}), 400)
        # A hash that does not match the cut is refused.
        later = live[len(live) // 2]["seq"]
        self.assertStatus(self.admin.post("/v1/audit/prune",
                                          {"throughSeq": later, "expectHash": cut_hash}), 400)
        self.assertEqual(self.admin.audit_records()[0]["seq"], cut + 1)

    def test_only_the_admin_prunes(self):
        agent = self.server.agent("ir-agent")
        self.assertStatus(agent.post("/v1/audit/prune", {"throughSeq": 1}), 403)
        self.assertStatus(self.admin.post("/v1/audit/prune", {"throughSeq": 1, "nope": 1}), 400)
        self.assertStatus(self.admin.post("/v1/audit/prune", {}), 400)


class RetentionAcrossRestartsTest(CliMixin, xrole_e2e.ServerTestCase):
    """Servers of their own, on one data directory."""

    def start(self, data_dir):
        server = xrole_e2e.Server(data_dir=data_dir)
        self.addCleanup(server.cleanup)
        server.start()
        self.server = server
        return server

    def stop(self, server):
        self.assertEqual(server.stop(), 0, server.stderr())

    def offline_verify(self, data_dir):
        result = subprocess.run([xrole_e2e.XROLE, "audit", "verify", "--offline", "--data",
                                 data_dir, "--output", "json"], capture_output=True, text=True,
                                timeout=60)
        return result.returncode, json.loads(result.stdout) if result.stdout else None

    def test_a_pruned_chain_survives_restarts_and_offline_verification(self):
        data = tempfile.mkdtemp(prefix="xrole-e2e-retention-data-")
        self.addCleanup(shutil.rmtree, data, True)
        server = self.start(data)
        activity(server, 8)
        cut = server.admin().audit_records()[9]["seq"]
        self.xrole("audit", "prune", "--through", str(cut), "--no-archive")
        self.stop(server)
        code, report = self.offline_verify(data)
        self.assertEqual(code, 0, report)
        self.assertEqual(report["prunedThrough"], cut)

        server = self.start(data)
        activity(server, 4)
        later = server.admin().audit_records()[-3]["seq"]
        self.xrole("audit", "prune", "--through", str(later), "--no-archive")
        verify = server.admin().verify_audit()
        self.assertTrue(verify.json["ok"], verify)
        self.assertEqual(verify.json["prunedThrough"], later)
        self.assertEqual(len([r for r in server.admin().audit_records()
                              if r["type"] == "audit.prune"]), 1)  # the first one went too
        self.stop(server)
        code, report = self.offline_verify(data)
        self.assertEqual(code, 0, report)

    def test_records_removed_without_a_recorded_prune_are_a_gap(self):
        data = tempfile.mkdtemp(prefix="xrole-e2e-retention-data-")
        self.addCleanup(shutil.rmtree, data, True)
        server = self.start(data)
        activity(server, 4)
        self.stop(server)  # its final checkpoint pins the last record
        pinned = Chain(data).records[-1]["seq"]
        server = self.start(data)
        activity(server, 4)
        self.stop(server)

        # Someone removes everything through a checkpointed record: the checkpoint vouches for
        # the hash the next record links to, but no prune names the cut.
        chain = Chain(data)
        chain.records = [r for r in chain.records if r["seq"] > pinned]
        chain.save()
        code, report = self.offline_verify(data)
        self.assertEqual(code, 1, report)
        self.assertIn(("gap", 1), [(p["kind"], p["seq"]) for p in report["problems"]])
        self.assertEqual(report["prunedThrough"], 0)

        # And the server refuses to prune a chain that does not verify.
        server = self.start(data)
        reply = server.admin().post("/v1/audit/prune", {"throughSeq": pinned + 2})
        self.assertStatus(reply, 409)
        self.assertIn("does not verify", reply.json["error"]["message"])
        self.assertEqual(server.admin().audit_records()[0]["seq"], pinned + 1)


if __name__ == "__main__":
    xrole_e2e.main()
