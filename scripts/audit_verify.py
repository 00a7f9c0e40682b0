#!/usr/bin/env python3
"""Checks an xrole audit chain exported as JSON Lines (`xrole audit export`), independently of
xrole: recomputes every record's hash from its content (format: src/audit/README.md) and
checks that records are numbered 1, 2, 3, ... and linked. Each `--pin SEQ:HASH` (a checkpoint
whose signature you have checked) must match the record's hash. `--after SEQ:HASH` checks a
chain that continues after record SEQ with hash HASH instead of starting at record 1: a live log
or an archive after an `xrole audit prune` (the `audit.prune` record names the cut).

Usage: audit_verify.py [FILE|-] [--after SEQ:HASH] [--pin SEQ:HASH]...
Exit status 0 if the chain verifies.
"""
import argparse
import hashlib
import json
import sys


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def main():
    parser = argparse.ArgumentParser(description="Checks an exported xrole audit chain.")
    parser.add_argument("file", nargs="?", default="-")
    parser.add_argument("--pin", action="append", default=[], metavar="SEQ:HASH")
    parser.add_argument("--after", default="0:" + "0" * 64, metavar="SEQ:HASH")
    args = parser.parse_args()
    pins = {int(seq): h for seq, h in (pin.split(":", 1) for pin in args.pin)}
    lines = sys.stdin if args.file == "-" else open(args.file, encoding="ascii")
    start_seq, prev = args.after.split(":", 1)
    seq, problems = int(start_seq), []
    for line in filter(str.strip, lines):
        r = json.loads(line)
        record = canonical({k: r[k] for k in ("event", "seq", "time", "type")})
        digest = hashlib.sha256((r["prevHash"] + "\n" + record).encode("ascii")).hexdigest()
        checks = [(r["seq"] == seq + 1, f"expected record {seq + 1}"),
                  (r["prevHash"] == prev, f"does not link to record {seq}"),
                  (digest == r["hash"], "does not match its hash"),
                  (pins.pop(r["seq"], r["hash"]) == r["hash"], "does not match its pin")]
        problems += [f"record {r['seq']}: {what}" for ok, what in checks if not ok]
        seq, prev = r["seq"], r["hash"]
    problems += [f"record {s}: pinned but missing" for s in pins]
    print("\n".join(problems) or f"ok: {seq} records, last hash {prev}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
