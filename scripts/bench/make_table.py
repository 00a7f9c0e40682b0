#!/usr/bin/env python3
"""Builds the comparison table of scripts/bench/compare.sh (markdown on stdout).

Inputs: the Google Benchmark JSON of bench/policy_eval_bench (run with repetitions and
--benchmark_report_aggregates_only) and the JSON report of bench/node/compare.mjs. All figures are
medians over the repetitions. Ratios divide xrole's compiled evaluator by the other engine; for
iam-simulate the faster of its two variants is used.
"""

import argparse
import json
import os
import platform


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def xrole_medians(path):
    """name -> {wall, cpu, counters} from the median aggregates (rates in decisions/s)."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    out = {}
    for b in data["benchmarks"]:
        name = b.get("run_name", b["name"]).removesuffix("/real_time")
        if b.get("error_occurred"):
            out[name] = {"error": b.get("error_message", "error"), "counters": {}}
            continue
        if b.get("aggregate_name") != "median":
            continue
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b.get("time_unit", "ns")]
        out[name] = {
            "real_s": b["real_time"] * scale,
            "cpu_s": b["cpu_time"] * scale,
            "wall": 1.0 / (b["real_time"] * scale),
            "cpu": 1.0 / (b["cpu_time"] * scale),
            "error": b.get("error_message"),
            "counters": {k: v for k, v in b.items()
                         if k in ("mismatches", "allowed", "explicit_deny", "implicit_deny",
                                  "policies", "parse_failures")},
        }
    return out, data.get("context", {})


def fmt(rate):
    if rate is None:
        return "n/a"
    if rate >= 100:
        return f"{rate:,.0f}"
    return f"{rate:,.1f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:,.0f}x" if a / b >= 10 else f"{a / b:,.1f}x"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--xrole", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--date", default="")
    parser.add_argument("--load", default="")
    parser.add_argument("--reps", default="5")
    args = parser.parse_args()

    xrole, _ = xrole_medians(args.xrole)
    node = {}
    node_info = {}
    if os.path.exists(args.node):
        with open(args.node, encoding="utf-8") as f:
            node_info = json.load(f)
        for r in node_info["results"]:
            node[(r["engine"], r["statements"])] = r

    sizes = sorted({r["statements"] for r in node_info.get("results", [])} |
                   {int(k.split("/")[1]) for k in xrole if k.startswith("BM_Evaluate/")})

    print(f"Date: {args.date}  ")
    print(f"Machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}; "
          f"load average (1/5/15 min) before -> after: {args.load}  ")
    print(f"xrole: Release build, bench/policy_eval_bench (Google Benchmark); node "
          f"{node_info.get('node', '?')}; medians of {args.reps} repetitions, one thread per "
          f"engine  ")
    labels = node_info.get("engines", {})
    for key in ("iam-simulate", "iam-simulate-preloaded", "cedar"):
        if key in labels:
            print(f"- {key}: {labels[key]}  ")
    print()
    print("| Statements | xrole compiled | xrole reference | iam-simulate (public) | "
          "iam-simulate (preloaded) | Cedar (wasm) | xrole / iam-simulate | xrole / Cedar |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for clock in ("wall", "cpu"):
        for n in sizes:
            for bench in (f"BM_Evaluate/{n}", f"BM_EvaluateReference/{n}"):
                if xrole.get(bench, {}).get("error"):
                    print(f"| {n} | {bench} skipped: {xrole[bench]['error']} | | | | | | |")
            x = xrole.get(f"BM_Evaluate/{n}", {}).get(clock)
            ref = xrole.get(f"BM_EvaluateReference/{n}", {}).get(clock)
            key = "decisions_per_second_median" if clock == "wall" else \
                "decisions_per_cpu_second_median"
            sim = node.get(("iam-simulate", n), {}).get(key)
            pre = node.get(("iam-simulate-preloaded", n), {}).get(key)
            ced = node.get(("cedar", n), {}).get(key)
            best_sim = max([v for v in (sim, pre) if v is not None], default=None)
            label = f"{n}" if clock == "wall" else f"{n} (per CPU-s)"
            print(f"| {label} | {fmt(x)} | {fmt(ref)} | {fmt(sim)} | {fmt(pre)} | {fmt(ced)} | "
                  f"{ratio(x, best_sim)} | {ratio(x, ced)} |")
    print()
    print("Decisions per second (medians). First rows: per wall-clock second; rows marked "
          "\"per CPU-s\": per second of CPU time of the measuring process.")
    print()
    mism = {f"xrole {k}": v["counters"].get("mismatches") for k, v in xrole.items()
            if "mismatches" in v["counters"]}
    for (engine, n), r in sorted(node.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        mism[f"{engine} {n}"] = r["mismatches"]
    bad = {k: v for k, v in mism.items() if v}
    checked = all(r.get("checked_against_xrole") for r in node.values()) if node else False
    print("Decision agreement: " + ("all engines agree with the expected decisions on every "
                                   "request" if not bad else f"MISMATCHES {bad}") +
          ("; iam-simulate and Cedar checked against xrole's decisions" if checked else ""))
    comp = xrole.get("BM_CompileManagedPolicies")
    if comp is None:
        print("\nCompile of the AWS managed policies: not measured")
    else:
        if comp["error"]:
            print(f"\nCompile of the AWS managed policies: skipped ({comp['error']})")
        else:
            c = comp["counters"]
            print(f"\nParse + compile of the AWS managed policies (default versions): "
                  f"{comp['real_s'] * 1000:,.0f} ms wall, {comp['cpu_s'] * 1000:,.0f} ms CPU "
                  f"(median) for {int(c.get('policies', 0))} policies compiled as one set; "
                  f"{int(c.get('parse_failures', 0))} rejected by the parser")


if __name__ == "__main__":
    main()
