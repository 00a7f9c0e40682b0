// compare.mjs: runs the shared policy-evaluation workloads (bench/workloads/<n>stmt.json, made by
// scripts/bench/make_workload.py) through the two external engines xrole is compared with, and
// reports decisions per second. Both engines run here, in node, as separate programs; nothing of
// them is linked into xrole.
//
//   iam-simulate  @cloud-copilot/iam-simulate (pinned in tests/oracle/package.json), measured two
//                 ways: `public`, its fastest public API (runUnsafeSimulation: synchronous, no
//                 input validation, but it parses the policy documents on every call), and
//                 `preloaded`, its core `authorize` with the policies loaded once up front (the
//                 same code runUnsafeSimulation runs after loading; reached by file path because
//                 the package does not export it).
//   cedar         @cedar-policy/cedar-wasm (pinned in tests/oracle/package.json): policy set
//                 parsed once with preparsePolicySet, each request decided by
//                 statefulIsAuthorized (the fastest API 4.13.0 offers); entities and context are
//                 passed per request as JSON, as any caller of the wasm API must.
//
// Every engine's decisions are checked against the workload's expected decisions and, when
// --xrole-decisions DIR is given (files written by policy_eval_bench --decisions_out=DIR),
// against xrole's. Cedar has no implicit/explicit distinction: "deny" is compared with both.
//
// Usage: node bench/node/compare.mjs [--sizes 10,100,1000] [--reps 5] [--min-time 1]
//          [--warmup 0.5] [--workloads DIR] [--oracle DIR] [--xrole-decisions DIR] [--json FILE]
//          [--engines iam-simulate,iam-simulate-preloaded,cedar]
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import os from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

function parseArgs(argv) {
  const args = {
    sizes: '10,100,1000',
    reps: 5,
    minTime: 1.0,
    warmup: 0.5,
    workloads: join(repo, 'bench', 'workloads'),
    oracle: process.env.XROLE_ORACLE_DIR || join(repo, 'tests', 'oracle'),
    xroleDecisions: '',
    json: '',
    engines: 'iam-simulate,iam-simulate-preloaded,cedar',
  };
  for (let i = 2; i < argv.length; i++) {
    const name = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`missing value for \`${name}\``);
    switch (name) {
      case '--sizes': args.sizes = value; break;
      case '--reps': args.reps = Number(value); break;
      case '--min-time': args.minTime = Number(value); break;
      case '--warmup': args.warmup = Number(value); break;
      case '--workloads': args.workloads = resolve(value); break;
      case '--oracle': args.oracle = resolve(value); break;
      case '--xrole-decisions': args.xroleDecisions = resolve(value); break;
      case '--json': args.json = resolve(value); break;
      case '--engines': args.engines = value; break;
      default: throw new Error(`unknown option \`${name}\``);
    }
  }
  return args;
}

const args = parseArgs(process.argv);
if (!existsSync(join(args.oracle, 'node_modules'))) {
  console.error(`no node_modules in \`${args.oracle}\`: run \`npm ci\` there first`);
  process.exit(2);
}
const oracleRequire = createRequire(join(args.oracle, 'package.json'));
const cedar = oracleRequire('@cedar-policy/cedar-wasm/nodejs');
const simulate = oracleRequire('@cloud-copilot/iam-simulate');
const simulateDir = dirname(dirname(dirname(oracleRequire.resolve('@cloud-copilot/iam-simulate'))));
const simulateVersion = JSON.parse(readFileSync(join(simulateDir, 'package.json'), 'utf8')).version;
const simulateRequire = createRequire(join(simulateDir, 'package.json'));

// The pieces runUnsafeSimulation is made of, for the `preloaded` variant.
const core = simulateRequire(join(simulateDir, 'dist/cjs/core_engine/CoreSimulatorEngine.js'));
const { AwsRequestImpl } = simulateRequire(join(simulateDir, 'dist/cjs/request/request.js'));
const { RequestContextImpl } = simulateRequire(join(simulateDir, 'dist/cjs/requestContext.js'));
const { DiscoveryContextKeyConstraints } = simulateRequire(
  join(simulateDir, 'dist/cjs/context_keys/discoveryContextKeyConstraints.js'));
const { loadPolicy } = simulateRequire('@cloud-copilot/iam-policy');

// ---------------------------------------------------------------------------------------------
// Engines. Each make() returns a function deciding request i, returning
// 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied' | 'Denied' (cedar).

function simulation(workload, r) {
  return {
    request: {
      principal: r.principal,
      action: r.action,
      resource: { resource: r.resource, accountId: r.resource_account },
      contextVariables: r.context,
    },
    identityPolicies: workload.iam.policies.map((p) => ({ name: p.name, policy: p.document })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
}

const engines = {
  'iam-simulate': {
    label: `iam-simulate ${simulateVersion} (runUnsafeSimulation)`,
    make(workload) {
      const sims = workload.requests.map((r) => simulation(workload, r));
      return (i) => simulate.runUnsafeSimulation(sims[i], {});
    },
  },
  'iam-simulate-preloaded': {
    label: `iam-simulate ${simulateVersion} (authorize, policies preloaded)`,
    make(workload) {
      const identityPolicies = workload.iam.policies.map((p) =>
        loadPolicy(p.document, { name: p.name }));
      const simulationParameters = {
        simulationMode: 'Strict',
        discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]),
      };
      const reqs = workload.requests;
      return (i) => {
        const r = reqs[i];
        const request = new AwsRequestImpl(r.principal,
          { resource: r.resource, accountId: r.resource_account }, r.action,
          new RequestContextImpl(r.context));
        return core.authorize({
          request,
          sessionPolicy: undefined,
          identityPolicies,
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          resourcePolicy: undefined,
          permissionBoundaries: undefined,
          vpcEndpointPolicies: undefined,
          simulationParameters,
          serviceSettings: { s3: { blockPublicAccess: undefined } },
        }).result;
      };
    },
  },
  cedar: {
    label: `cedar-wasm ${cedar.getCedarSDKVersion ? cedar.getCedarSDKVersion() : ''} ` +
      '(preparsePolicySet + statefulIsAuthorized)',
    make(workload) {
      const id = `bench-${workload.name}`;
      const parsed = cedar.preparsePolicySet(id, { staticPolicies: workload.cedar.policies });
      if (parsed.type !== 'success') {
        throw new Error(`cedar policy set ${workload.name}: ${JSON.stringify(parsed.errors)}`);
      }
      const calls = workload.requests.map((r) => ({
        principal: r.cedar.principal,
        action: r.cedar.action,
        resource: r.cedar.resource,
        context: r.cedar.context,
        entities: r.cedar.entities,
        preparsedPolicySetId: id,
      }));
      return (i) => {
        const answer = cedar.statefulIsAuthorized(calls[i]);
        if (answer.type !== 'success') {
          throw new Error(`cedar request ${i}: ${JSON.stringify(answer.errors)}`);
        }
        const { decision, diagnostics } = answer.response;
        if (diagnostics.errors.length > 0) {
          throw new Error(`cedar request ${i}: ${JSON.stringify(diagnostics.errors)}`);
        }
        return decision === 'allow' ? 'Allowed' : 'Denied';
      };
    },
  },
};

function agrees(got, want) {
  if (got === 'Denied') return want !== 'Allowed';
  return got === want;
}

// Runs whole passes over the requests until `seconds` have elapsed (at least one pass, so every
// measurement sees the workload's full mix). Returns decisions per wall-clock second and per
// second of this process's CPU time (user + system, all of node's threads).
function measure(decide, count, seconds) {
  let done = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < count; i++) decide(i);
    done += count;
    elapsed = (performance.now() - start) / 1000;
  } while (elapsed < seconds);
  const cpu = process.cpuUsage(cpu0);
  return { wall: done / elapsed, cpu: done / ((cpu.user + cpu.system) / 1e6) };
}

// Decides requests round-robin for `seconds` (warm-up; partial passes are fine).
function warmUp(decide, count, seconds) {
  const start = performance.now();
  for (let i = 0; (performance.now() - start) / 1000 < seconds; i = (i + 1) % count) decide(i);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const results = [];
let mismatches = 0;
for (const size of args.sizes.split(',').map(Number)) {
  const file = join(args.workloads, `${size}stmt.json`);
  const workload = JSON.parse(readFileSync(file, 'utf8'));
  const count = workload.requests.length;
  let xrole = null;
  if (args.xroleDecisions) {
    const f = join(args.xroleDecisions, `${size}stmt.decisions.json`);
    if (existsSync(f)) xrole = JSON.parse(readFileSync(f, 'utf8')).decisions;
    else console.error(`note: no xrole decisions in \`${f}\``);
  }
  for (const name of args.engines.split(',')) {
    const engine = engines[name];
    if (!engine) throw new Error(`unknown engine \`${name}\``);
    const decide = engine.make(workload);
    // Correctness pass (also the first warm-up).
    const bad = [];
    const tally = {};
    for (let i = 0; i < count; i++) {
      const got = decide(i);
      tally[got] = (tally[got] || 0) + 1;
      const r = workload.requests[i];
      if (!agrees(got, r.expected) || (xrole && !agrees(got, xrole[i]))) {
        bad.push({ i, action: r.action, resource: r.resource, got, expected: r.expected,
          xrole: xrole ? xrole[i] : undefined });
      }
    }
    mismatches += bad.length;
    for (const b of bad.slice(0, 5)) console.error(`mismatch ${name} ${size}stmt: ${JSON.stringify(b)}`);
    warmUp(decide, count, args.warmup);
    const rates = [];
    for (let rep = 0; rep < args.reps; rep++) rates.push(measure(decide, count, args.minTime));
    const row = {
      engine: name, label: engine.label, statements: size, requests: count,
      decisions_per_second_median: median(rates.map((r) => r.wall)),
      decisions_per_cpu_second_median: median(rates.map((r) => r.cpu)),
      decisions_per_second: rates.map((r) => r.wall),
      decisions_per_cpu_second: rates.map((r) => r.cpu),
      decisions: tally, mismatches: bad.length, checked_against_xrole: xrole !== null,
    };
    results.push(row);
    console.log(`${name.padEnd(24)} ${String(size).padStart(5)} stmt  ` +
      `${row.decisions_per_second_median.toFixed(0).padStart(10)} decisions/s, ` +
      `${row.decisions_per_cpu_second_median.toFixed(0).padStart(10)} per CPU-s (median of ` +
      `${args.reps})  mismatches ${bad.length}  ${JSON.stringify(tally)}`);
  }
}

const report = {
  node: process.version,
  cpu: os.cpus()[0]?.model,
  engines: Object.fromEntries(Object.entries(engines).map(([k, v]) => [k, v.label])),
  results,
  mismatches,
};
if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 2) + '\n');
process.exit(mismatches === 0 ? 0 : 1);
