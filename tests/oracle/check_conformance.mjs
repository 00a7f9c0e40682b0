// check_conformance.mjs: runs xrole's conformance cases (tests/conformance/cases/*.yaml)
// through the reference oracle and compares the oracle's decision with each case's `expect`.
// A case marked `oracle: differs` documents a known departure of the oracle from AWS's
// documentation (its `fidelity:` names the row of docs/fidelity.md): the oracle must then
// disagree. Every other case must agree. Cases that expect an error, or are marked
// `oracle: skip`, are not sent. Exit status 1 on any unexpected result.
//
//   node check_conformance.mjs [--export FILE] [--verbose]
// --export writes every case as an eval-case JSON line (id = "<file>#<index>") to FILE.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { evaluateCase } from './run_oracle.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const casesDir = path.join(here, '..', 'conformance', 'cases');

const kCaseKeys = new Set([
  'name', 'source', 'note', 'identityPolicies', 'permissionBoundaries', 'sessionPolicy',
  'resourcePolicy', 'scps', 'rcps', 'request', 'expect', 'oracle', 'fidelity'
]);
const kPolicyKeys = [
  'identityPolicies', 'permissionBoundaries', 'sessionPolicy', 'resourcePolicy', 'scps', 'rcps'
];
const kDecisions = new Set(['Allowed', 'ExplicitlyDenied', 'ImplicitlyDenied']);

// The eval case (design contract 4.1) of one YAML case.
export function toEvalCase(c, id) {
  const out = { id };
  for (const key of kPolicyKeys) {
    if (c[key] !== undefined) out[key] = c[key];
  }
  out.request = c.request;
  return out;
}

// Loads every case file; returns [{file, index, id, case}] and a list of format problems.
export function loadCases() {
  const files = fs.readdirSync(casesDir).filter((f) => f.endsWith('.yaml')).sort();
  const all = [];
  const problems = [];
  for (const file of files) {
    const text = fs.readFileSync(path.join(casesDir, file), 'utf8');
    const doc = YAML.parse(text, { schema: 'core', maxAliasCount: -1 });
    if (!doc || !Array.isArray(doc.cases)) {
      problems.push(`${file}: no \`cases\` list`);
      continue;
    }
    doc.cases.forEach((c, index) => {
      const id = `${file}#${index}`;
      for (const key of Object.keys(c)) {
        if (!kCaseKeys.has(key)) problems.push(`${id}: unknown member \`${key}\``);
      }
      if (typeof c.name !== 'string') problems.push(`${id}: missing name`);
      if (!c.request || typeof c.request !== 'object') problems.push(`${id}: missing request`);
      const expect = c.expect || {};
      if (!('error' in expect) && !kDecisions.has(expect.decision)) {
        problems.push(`${id}: expect.decision must be one of ${[...kDecisions].join(', ')}`);
      }
      if (c.oracle !== undefined && !['agrees', 'differs', 'skip'].includes(c.oracle)) {
        problems.push(`${id}: oracle must be agrees, differs or skip`);
      }
      if (c.oracle === 'differs' && typeof c.fidelity !== 'string') {
        problems.push(`${id}: oracle: differs needs a fidelity reference`);
      }
      all.push({ file, index, id, case: c });
    });
  }
  return { all, problems };
}

function main() {
  const verbose = process.argv.includes('--verbose');
  const exportAt = process.argv.indexOf('--export');
  const { all, problems } = loadCases();
  for (const p of problems) console.log(`format: ${p}`);

  const perFile = new Map();
  const tally = (file, what) => {
    if (!perFile.has(file)) perFile.set(file, { total: 0, agree: 0, differ: 0, skipped: 0, bad: 0 });
    const t = perFile.get(file);
    ++t.total;
    ++t[what];
  };
  const differing = [];
  const unexpected = [];
  const exported = [];
  for (const { file, id, case: c } of all) {
    const evalCase = toEvalCase(c, id);
    exported.push(JSON.stringify(evalCase));
    const expect = c.expect || {};
    if ('error' in expect || c.oracle === 'skip') {
      tally(file, 'skipped');
      continue;
    }
    const got = evaluateCase(evalCase);
    const label = `${id} (${c.name})`;
    if (got.error !== undefined) {
      tally(file, 'bad');
      unexpected.push(`${label}: oracle refused: ${got.error}`);
      continue;
    }
    const agrees = got.decision === expect.decision;
    if (c.oracle === 'differs') {
      if (agrees) {
        tally(file, 'bad');
        unexpected.push(`${label}: marked differs (${c.fidelity}) but the oracle agrees: ${got.decision}`);
      } else {
        tally(file, 'differ');
        differing.push(`${label}: expected ${expect.decision}, oracle ${got.decision} [${c.fidelity}]`);
      }
    } else if (agrees) {
      tally(file, 'agree');
      if (verbose) console.log(`ok ${label}: ${got.decision}`);
    } else {
      tally(file, 'bad');
      unexpected.push(`${label}: expected ${expect.decision}, oracle ${got.decision}`);
    }
  }
  if (exportAt !== -1 && process.argv[exportAt + 1]) {
    fs.writeFileSync(process.argv[exportAt + 1], exported.join('\n') + '\n');
  }

  console.log('known differences (oracle: differs):');
  for (const d of differing) console.log(`  ${d}`);
  if (unexpected.length > 0) {
    console.log('unexpected results:');
    for (const u of unexpected) console.log(`  ${u}`);
  }
  const sum = { total: 0, agree: 0, differ: 0, skipped: 0, bad: 0 };
  console.log('file                              cases  agree  differ  skipped  unexpected');
  for (const [file, t] of perFile) {
    for (const k of Object.keys(sum)) sum[k] += t[k];
    console.log(
      `${file.padEnd(32)} ${String(t.total).padStart(6)} ${String(t.agree).padStart(6)} ` +
        `${String(t.differ).padStart(7)} ${String(t.skipped).padStart(8)} ${String(t.bad).padStart(11)}`);
  }
  console.log(
    `${'total'.padEnd(32)} ${String(sum.total).padStart(6)} ${String(sum.agree).padStart(6)} ` +
      `${String(sum.differ).padStart(7)} ${String(sum.skipped).padStart(8)} ${String(sum.bad).padStart(11)}`);
  const failed = sum.bad + problems.length;
  console.log(`${sum.agree + sum.differ + sum.skipped} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main();
}
