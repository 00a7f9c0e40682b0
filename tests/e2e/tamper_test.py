"""Tamper test: edits to the audit chain in the database are found.

A server records some activity and stops (its final checkpoint pins the tail). For each case a
copy of the data directory is changed with sqlite3 behind the server's back: a body edited, a
body edited and its hash recomputed, a row deleted, the tail deleted, a row inserted, two rows
swapped, a checkpoint signature damaged. The server is started again on the copy and
GET /v1/audit/verify must answer 409 with ok=false and the problem kind at the right seq; a
change the server itself cannot start on (an edited chain head, a truncated chain) must keep it
from starting. Where `xrole audit verify --offline --data DIR` exists it must agree (exit 1).
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

import xrole_e2e

INSTANCE = "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def chain_hash(prev_hash, seq, time_ms, record_type, body):
    record = '{"event":%s,"seq":%d,"time":%d,"type":%s}' % (body, seq, time_ms,
                                                            canonical(record_type))
    return hashlib.sha256((prev_hash + "\n" + record).encode()).hexdigest()


def offline_verify_available():
    if not xrole_e2e.XROLE:
        return False
    probe = subprocess.run([xrole_e2e.XROLE, "audit", "verify", "--help"],
                           capture_output=True, text=True)
    return probe.returncode == 0 and "--offline" in probe.stdout + probe.stderr


class TamperTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pristine = tempfile.mkdtemp(prefix="xrole-e2e-pristine-")
        server = xrole_e2e.Server(data_dir=cls.pristine)
        try:
            server.start()
            agent = server.agent("ir-agent")
            admin = server.admin()
            run = agent.start_run("incident-response").json["runId"]
            for _ in range(5):
                session = agent.assume("incident-responder", run)
                token = session.json["credentials"]["sessionToken"]
                for action in ("ec2:StopInstances", "ec2:DeleteSnapshot", "ec2:RunInstances"):
                    reply = admin.authorize(token, action, INSTANCE)
                    assert reply.status == 200, reply
            assert agent.revoke(sessionId=session.json["sessionId"]).status == 200
            verify = admin.verify_audit()
            assert verify.status == 200 and verify.json["ok"], verify
            assert server.stop() == 0, server.stderr()
        finally:
            server.cleanup()
        with sqlite3.connect(os.path.join(cls.pristine, "xrole.db")) as db:
            cls.last_seq = db.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0]
            cls.checkpoint_seqs = [row[0] for row in
                                   db.execute("SELECT seq FROM audit_checkpoints ORDER BY seq")]
        db.close()
        # The final checkpoint of the clean stop pins the last record.
        assert cls.checkpoint_seqs and cls.checkpoint_seqs[-1] == cls.last_seq, \
            (cls.checkpoint_seqs, cls.last_seq)
        assert cls.last_seq >= 20, cls.last_seq
        # A record in the middle that no checkpoint pins.
        cls.middle = cls.last_seq // 2
        while cls.middle in cls.checkpoint_seqs or cls.middle + 1 in cls.checkpoint_seqs:
            cls.middle += 1
        cls.offline = offline_verify_available()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pristine, ignore_errors=True)

    # ---- shared steps ----

    def tampered_copy(self, change):
        """A copy of the pristine data directory with `change(db)` applied to its database."""
        directory = tempfile.mkdtemp(prefix="xrole-e2e-tampered-")
        self.addCleanup(shutil.rmtree, directory, True)
        shutil.copytree(self.pristine, directory, dirs_exist_ok=True)
        db = sqlite3.connect(os.path.join(directory, "xrole.db"))
        try:
            with db:
                change(db)
        finally:
            db.close()
        return directory

    def row(self, db, seq):
        return db.execute("SELECT seq, time_ms, type, body, prev_hash, hash FROM audit_log "
                          "WHERE seq = ?", (seq,)).fetchone()

    def server_verify(self, directory):
        server = xrole_e2e.Server(data_dir=directory, load=[])
        self.addCleanup(server.cleanup)
        server.start(load=False)
        reply = server.admin().verify_audit()
        self.assertEqual(server.stop(), 0, server.stderr())
        return reply

    def assertFound(self, directory, kind, seq, message_has=None):
        """The server starts on `directory` and its verify reports `kind` at `seq`, and nothing
        before it."""
        reply = self.server_verify(directory)
        self.assertEqual(reply.status, 409, reply)
        self.assertFalse(reply.json["ok"], reply)
        problems = reply.json["problems"]
        found = [p for p in problems if p["kind"] == kind and p["seq"] == seq]
        self.assertTrue(found, "expected %s@%d in %r" % (kind, seq, problems))
        if message_has is not None:
            self.assertIn(message_has, found[0]["message"])
        self.assertEqual([p for p in problems if p["seq"] < seq], [], problems)
        self.assertOffline(directory, kind, seq)
        if os.environ.get("XROLE_E2E_VERBOSE"):
            print("\n%s: %r" % (self.id(), problems))
        return problems

    def assertRefusesToStart(self, directory, message_has, kind, seq):
        """The server refuses to start on `directory`; offline verification (where it exists)
        reports `kind` at `seq`."""
        server = xrole_e2e.Server(data_dir=directory, load=[])
        self.addCleanup(server.cleanup)
        with self.assertRaises(xrole_e2e.ServerStartError) as raised:
            server.start(load=False)
        self.assertNotEqual(raised.exception.returncode, 0)
        self.assertIn(message_has, raised.exception.stderr)
        self.assertOffline(directory, kind, seq)

    def assertOffline(self, directory, kind, seq):
        """`xrole audit verify --offline` (where it exists) exits 1 and reports `kind` at
        `seq`."""
        if not self.offline:
            return
        result = subprocess.run([xrole_e2e.XROLE, "audit", "verify", "--offline", "--data",
                                 directory, "--output", "json"],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 1, result)
        report = json.loads(result.stdout)
        self.assertFalse(report["ok"], report)
        self.assertIn((kind, seq), [(p["kind"], p["seq"]) for p in report["problems"]], report)

    # ---- cases ----

    def test_untouched_copy_verifies(self):
        reply = self.server_verify(self.tampered_copy(lambda db: None))
        self.assertEqual(reply.status, 200, reply)
        self.assertTrue(reply.json["ok"])
        self.assertGreaterEqual(reply.json["checkpoints"], 1)
        if self.offline:
            result = subprocess.run([xrole_e2e.XROLE, "audit", "verify", "--offline", "--data",
                                     self.pristine, "--output", "json"],
                                    capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 0, result)
            self.assertTrue(json.loads(result.stdout)["ok"], result)

    def edited_body(self, db, seq):
        _, _, _, body, _, _ = self.row(db, seq)
        event = json.loads(body)
        event["outcome"] = "Allowed" if event.get("outcome") != "Allowed" else "ExplicitlyDenied"
        event.setdefault("details", {})
        if isinstance(event["details"], dict):
            event["details"]["note"] = "rewritten"
        return canonical(event)

    def test_edited_body(self):
        seq = self.middle

        def change(db):
            db.execute("UPDATE audit_log SET body = ? WHERE seq = ?",
                       (self.edited_body(db, seq), seq))

        self.assertFound(self.tampered_copy(change), "edited", seq, "does not match its hash")

    def test_non_canonical_body(self):
        seq = self.middle

        def change(db):
            body = self.row(db, seq)[3]
            db.execute("UPDATE audit_log SET body = ? WHERE seq = ?",
                       (json.dumps(json.loads(body), indent=1), seq))

        self.assertFound(self.tampered_copy(change), "edited", seq, "canonical")

    def test_edited_body_with_recomputed_hash(self):
        seq = self.middle

        def change(db):
            _, time_ms, record_type, _, prev_hash, _ = self.row(db, seq)
            body = self.edited_body(db, seq)
            new_hash = chain_hash(prev_hash, seq, time_ms, record_type, body)
            db.execute("UPDATE audit_log SET body = ?, hash = ? WHERE seq = ?",
                       (body, new_hash, seq))

        problems = self.assertFound(self.tampered_copy(change), "bad-link", seq + 1)
        self.assertNotIn(seq, [p["seq"] for p in problems])

    def test_deleted_middle_row(self):
        seq = self.middle
        self.assertFound(
            self.tampered_copy(lambda db: db.execute("DELETE FROM audit_log WHERE seq = ?",
                                                     (seq,))),
            "gap", seq, "record %d is missing" % seq)

    def test_deleted_tail_past_the_checkpoint(self):
        last = self.last_seq
        directory = self.tampered_copy(
            lambda db: db.execute("DELETE FROM audit_log WHERE seq > ?", (last - 2,)))
        # The server refuses a chain that ends before its last checkpoint.
        self.assertRefusesToStart(directory, "truncated", "truncated", last)

    def test_edited_chain_head(self):
        last = self.last_seq

        def change(db):
            db.execute("UPDATE audit_log SET body = ? WHERE seq = ?",
                       (self.edited_body(db, last), last))

        self.assertRefusesToStart(self.tampered_copy(change), "does not match its hash",
                                  "edited", last)

    def insert_row(self, db, seq, rehash_head):
        """Inserts a well-formed record at `seq` linking to its predecessor, renumbering the
        rest; with `rehash_head`, also recomputes the head's hash for its new number."""
        _, time_ms, _, _, _, prev_of_new = self.row(db, seq - 1)
        db.execute("UPDATE audit_log SET seq = -seq WHERE seq >= ?", (seq,))
        db.execute("UPDATE audit_log SET seq = 1 - seq WHERE seq < 0")
        body = canonical({"actor": {"principal": "admin"}, "outcome": "ok",
                          "details": {"note": "never happened"}})
        db.execute("INSERT INTO audit_log (seq, time_ms, type, body, prev_hash, hash) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   (seq, time_ms, "keys.rotate", body, prev_of_new,
                    chain_hash(prev_of_new, seq, time_ms, "keys.rotate", body)))
        if rehash_head:
            head = db.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0]
            _, head_time, head_type, head_body, head_prev, _ = self.row(db, head)
            db.execute("UPDATE audit_log SET hash = ? WHERE seq = ?",
                       (chain_hash(head_prev, head, head_time, head_type, head_body), head))

    def test_inserted_row(self):
        seq = self.middle
        directory = self.tampered_copy(lambda db: self.insert_row(db, seq, rehash_head=True))
        self.assertFound(directory, "inserted", seq)

    def test_inserted_row_without_rehashing_the_head(self):
        seq = self.middle
        directory = self.tampered_copy(lambda db: self.insert_row(db, seq, rehash_head=False))
        self.assertRefusesToStart(directory, "does not match its hash", "inserted", seq)

    def test_swapped_rows(self):
        first, second = self.middle, self.middle + 3

        def change(db):
            a = self.row(db, first)
            b = self.row(db, second)
            update = ("UPDATE audit_log SET time_ms = ?, type = ?, body = ?, prev_hash = ?, "
                      "hash = ? WHERE seq = ?")
            db.execute(update, b[1:] + (first,))
            db.execute(update, a[1:] + (second,))

        problems = self.assertFound(self.tampered_copy(change), "reordered", first)
        self.assertIn(("reordered", second), [(p["kind"], p["seq"]) for p in problems])

    def test_damaged_checkpoint_signature(self):
        seq = self.checkpoint_seqs[-1]

        def change(db):
            signature = db.execute("SELECT signature FROM audit_checkpoints WHERE seq = ?",
                                   (seq,)).fetchone()[0]
            damaged = ("B" if signature[0] == "A" else "A") + signature[1:]
            db.execute("UPDATE audit_checkpoints SET signature = ? WHERE seq = ?",
                       (damaged, seq))

        self.assertFound(self.tampered_copy(change), "bad-signature", seq)

    def test_offline_verify_is_available(self):
        if not self.offline:
            self.skipTest("`xrole audit verify --offline` is not in this build: the cases "
                          "above checked the server only")


if __name__ == "__main__":
    xrole_e2e.main()
