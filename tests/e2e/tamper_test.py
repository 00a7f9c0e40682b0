"""Tamper test: edits to the audit chain, in the database and in the segment files, are found.

A server records some activity and stops (its final checkpoint pins the tail). Records of state
changes (run start, assume, revoke) are kept in the database's audit_log table, decisions in
the segment files of `xrole.db-audit/`. For each case a copy of the data directory is changed
behind the server's back, with sqlite3 or by rewriting a segment file: a body edited, a body
edited and its hash recomputed, a record deleted, the tail deleted, a record inserted, two
records swapped, a checkpoint signature damaged, a segment file removed or garbled; each record
case is run once on a record in the table and once on a record in a segment. The server is
started again on the copy and GET /v1/audit/verify must answer 409 with ok=false and the problem
kind at the right seq; a change the server itself cannot start on (an edited chain head, a
truncated chain) must keep it from starting. Where `xrole audit verify --offline --data DIR`
exists it must agree (exit 1).
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


SEGMENTS = "xrole.db-audit"
EVENT_KEY = ',"event":'


def segment_line(record):
    """A record as the server writes it to a segment file (without the newline)."""
    return '{"seq":%d,"time":%d,"type":%s,"prevHash":%s,"hash":%s,"event":%s}' % (
        record["seq"], record["time"], canonical(record["type"]), canonical(record["prev"]),
        canonical(record["hash"]), record["body"])


class Chain:
    """The audit records of a data directory, each with where it is kept ("table" or a segment
    file name). Cases change the list; save() writes every record back to its own place."""

    def __init__(self, directory):
        self.directory = directory
        self.db = sqlite3.connect(os.path.join(directory, "xrole.db"))
        self.records = []
        for seq, time_ms, record_type, body, prev, hash_ in self.db.execute(
                "SELECT seq, time_ms, type, body, prev_hash, hash FROM audit_log"):
            self.records.append(dict(seq=seq, time=time_ms, type=record_type, body=body,
                                     prev=prev, hash=hash_, where="table"))
        segments = os.path.join(directory, SEGMENTS)
        self.files = sorted(os.listdir(segments)) if os.path.isdir(segments) else []
        for name in self.files:
            with open(os.path.join(segments, name), encoding="ascii") as segment:
                for line in segment.read().splitlines():
                    value = json.loads(line)
                    body = line[line.index(EVENT_KEY) + len(EVENT_KEY):-1]
                    assert json.loads(body) == value["event"], line
                    self.records.append(dict(seq=value["seq"], time=value["time"],
                                             type=value["type"], body=body,
                                             prev=value["prevHash"], hash=value["hash"],
                                             where=name))
        self.records.sort(key=lambda record: record["seq"])

    def index(self, seq):
        return [record["seq"] for record in self.records].index(seq)

    def record(self, seq):
        return self.records[self.index(seq)]

    def seqs_in(self, place):
        """Seqs of the records kept in the table ("table") or in segment files ("segment")."""
        return [record["seq"] for record in self.records
                if (record["where"] == "table") == (place == "table")]

    def save(self):
        with self.db:
            self.db.execute("DELETE FROM audit_log")
            self.db.executemany(
                "INSERT INTO audit_log (seq, time_ms, type, body, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(r["seq"], r["time"], r["type"], r["body"], r["prev"], r["hash"])
                 for r in self.records if r["where"] == "table"])
        for name in self.files:
            path = os.path.join(self.directory, SEGMENTS, name)
            if not os.path.exists(path):
                continue  # removed by the case
            with open(path, "w", encoding="ascii") as segment:
                segment.writelines(segment_line(r) + "\n"
                                   for r in self.records if r["where"] == name)
        self.db.close()


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
            for action in ("ec2:StopInstances", "ec2:RunInstances"):  # refused, and recorded
                admin.authorize(token, action, INSTANCE)
            verify = admin.verify_audit()
            assert verify.status == 200 and verify.json["ok"], verify
            assert server.stop() == 0, server.stderr()
        finally:
            server.cleanup()
        chain = Chain(cls.pristine)
        cls.last_seq = chain.records[-1]["seq"]
        cls.checkpoint_seqs = [row[0] for row in
                               chain.db.execute("SELECT seq FROM audit_checkpoints ORDER BY seq")]
        cls.table_seqs = chain.seqs_in("table")
        cls.segment_seqs = chain.seqs_in("segment")
        cls.segment_files = chain.files
        chain.db.close()
        # The final checkpoint of the clean stop pins the last record.
        assert cls.checkpoint_seqs and cls.checkpoint_seqs[-1] == cls.last_seq, \
            (cls.checkpoint_seqs, cls.last_seq)
        assert cls.last_seq >= 20, cls.last_seq
        assert [r["seq"] for r in chain.records] == list(range(1, cls.last_seq + 1))
        # Decisions went to the segments, state changes to the table; the tail is a decision.
        assert len(cls.table_seqs) >= 5 and len(cls.segment_seqs) >= 10, \
            (cls.table_seqs, cls.segment_seqs)
        assert cls.last_seq in cls.segment_seqs
        # For each place, a record in the middle that no checkpoint pins.
        cls.middle = {}
        for place, seqs in (("table", cls.table_seqs), ("segment", cls.segment_seqs)):
            candidates = [seq for seq in seqs[len(seqs) // 2:]
                          if seq + 3 < cls.last_seq and
                          not {seq, seq + 1} & set(cls.checkpoint_seqs)]
            assert candidates, (place, seqs, cls.checkpoint_seqs)
            cls.middle[place] = candidates[0]
        cls.offline = offline_verify_available()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pristine, ignore_errors=True)

    # ---- shared steps ----

    def tampered_copy(self, change):
        """A copy of the pristine data directory with `change(chain)` applied to its records."""
        directory = tempfile.mkdtemp(prefix="xrole-e2e-tampered-")
        self.addCleanup(shutil.rmtree, directory, True)
        shutil.copytree(self.pristine, directory, dirs_exist_ok=True)
        chain = Chain(directory)
        change(chain)
        chain.save()
        return directory

    def places(self):
        """Runs the calling case once per place a record can be kept in."""
        for place in ("table", "segment"):
            with self.subTest(place=place):
                yield place, self.middle[place]

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
        reply = self.server_verify(self.tampered_copy(lambda chain: None))
        self.assertEqual(reply.status, 200, reply)
        self.assertTrue(reply.json["ok"])
        self.assertGreaterEqual(reply.json["checkpoints"], 1)
        if self.offline:
            result = subprocess.run([xrole_e2e.XROLE, "audit", "verify", "--offline", "--data",
                                     self.pristine, "--output", "json"],
                                    capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 0, result)
            self.assertTrue(json.loads(result.stdout)["ok"], result)

    def edited_body(self, chain, seq):
        event = json.loads(chain.record(seq)["body"])
        event["outcome"] = "Allowed" if event.get("outcome") != "Allowed" else "ExplicitlyDenied"
        event.setdefault("details", {})
        if isinstance(event["details"], dict):
            event["details"]["note"] = "rewritten"
        return canonical(event)

    def test_edited_body(self):
        for _, seq in self.places():
            def change(chain, seq=seq):
                chain.record(seq)["body"] = self.edited_body(chain, seq)

            self.assertFound(self.tampered_copy(change), "edited", seq, "does not match its hash")

    def test_non_canonical_body(self):
        for _, seq in self.places():
            def change(chain, seq=seq):
                record = chain.record(seq)
                record["body"] = json.dumps(json.loads(record["body"]), separators=(", ", ": "),
                                            sort_keys=True)

            self.assertFound(self.tampered_copy(change), "edited", seq, "canonical")

    def test_edited_body_with_recomputed_hash(self):
        for _, seq in self.places():
            def change(chain, seq=seq):
                record = chain.record(seq)
                record["body"] = self.edited_body(chain, seq)
                record["hash"] = chain_hash(record["prev"], seq, record["time"], record["type"],
                                            record["body"])

            problems = self.assertFound(self.tampered_copy(change), "bad-link", seq + 1)
            self.assertNotIn(seq, [p["seq"] for p in problems])

    def test_deleted_middle_record(self):
        for _, seq in self.places():
            def change(chain, seq=seq):
                del chain.records[chain.index(seq)]

            self.assertFound(self.tampered_copy(change), "gap", seq,
                             "record %d is missing" % seq)

    def test_removed_segment_file(self):
        first = self.segment_seqs[0]
        directory = self.tampered_copy(
            lambda chain: os.remove(os.path.join(chain.directory, SEGMENTS, chain.files[0])))
        if len(self.segment_files) == 1:
            # The chain now ends in the table, before its last checkpoint.
            self.assertRefusesToStart(directory, "truncated", "truncated", self.last_seq)
        else:
            self.assertFound(directory, "gap", first)

    def test_garbled_segment_line(self):
        seq = self.middle["segment"]

        def change(chain):
            name = chain.record(seq)["where"]
            line = 1 + [r["seq"] for r in chain.records if r["where"] == name].index(seq)
            chain.record(seq)["body"] = '{"outcome": broken'
            self.garbled = (name, line)

        directory = self.tampered_copy(change)
        name, line = self.garbled
        reply = self.server_verify(directory)
        self.assertNotEqual(reply.status, 200, reply)
        self.assertIn("%s` line %d" % (name, line), reply.body, reply)
        if self.offline:
            result = subprocess.run([xrole_e2e.XROLE, "audit", "verify", "--offline", "--data",
                                     directory], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(result.returncode, 0, result)
            self.assertIn("%s` line %d" % (name, line), result.stderr, result)

    def test_deleted_tail_past_the_checkpoint(self):
        last = self.last_seq

        def change(chain):
            chain.records = [r for r in chain.records if r["seq"] <= last - 4]

        # The server refuses a chain that ends before its last checkpoint.
        self.assertRefusesToStart(self.tampered_copy(change), "truncated", "truncated", last)

    def test_edited_chain_head(self):
        last = self.last_seq

        def change(chain):
            chain.record(last)["body"] = self.edited_body(chain, last)

        self.assertRefusesToStart(self.tampered_copy(change), "does not match its hash",
                                  "edited", last)

    def insert_record(self, chain, seq, rehash_head):
        """Inserts a well-formed record at `seq`, kept where its predecessor is and linking to
        it, renumbering the rest; with `rehash_head`, also recomputes the head's hash for its new
        number."""
        before = chain.record(seq - 1)
        at = chain.index(seq)
        for record in chain.records[at:]:
            record["seq"] += 1
        body = canonical({"actor": {"principal": "admin"}, "outcome": "ok",
                          "details": {"note": "never happened"}})
        chain.records.insert(at, dict(
            seq=seq, time=before["time"], type="keys.rotate", body=body, prev=before["hash"],
            hash=chain_hash(before["hash"], seq, before["time"], "keys.rotate", body),
            where=before["where"]))
        if rehash_head:
            head = chain.records[-1]
            head["hash"] = chain_hash(head["prev"], head["seq"], head["time"], head["type"],
                                      head["body"])

    def test_inserted_record(self):
        for _, seq in self.places():
            directory = self.tampered_copy(
                lambda chain, seq=seq: self.insert_record(chain, seq, rehash_head=True))
            self.assertFound(directory, "inserted", seq)

    def test_inserted_record_without_rehashing_the_head(self):
        for _, seq in self.places():
            directory = self.tampered_copy(
                lambda chain, seq=seq: self.insert_record(chain, seq, rehash_head=False))
            self.assertRefusesToStart(directory, "does not match its hash", "inserted", seq)

    def test_swapped_records(self):
        for _, first in self.places():
            second = first + 3

            def change(chain, first=first, second=second):
                a, b = chain.record(first), chain.record(second)
                for field in ("time", "type", "body", "prev", "hash"):
                    a[field], b[field] = b[field], a[field]

            problems = self.assertFound(self.tampered_copy(change), "reordered", first)
            self.assertIn(("reordered", second), [(p["kind"], p["seq"]) for p in problems])

    def test_damaged_checkpoint_signature(self):
        seq = self.checkpoint_seqs[-1]

        def change(chain):
            signature = chain.db.execute("SELECT signature FROM audit_checkpoints WHERE seq = ?",
                                         (seq,)).fetchone()[0]
            damaged = ("B" if signature[0] == "A" else "A") + signature[1:]
            with chain.db:
                chain.db.execute("UPDATE audit_checkpoints SET signature = ? WHERE seq = ?",
                                 (damaged, seq))

        self.assertFound(self.tampered_copy(change), "bad-signature", seq)

    def test_offline_verify_is_available(self):
        if not self.offline:
            self.skipTest("`xrole audit verify --offline` is not in this build: the cases "
                          "above checked the server only")


if __name__ == "__main__":
    xrole_e2e.main()
