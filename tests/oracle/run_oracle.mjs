// run_oracle.mjs: xrole's external test oracle. Reads evaluation cases (docs/cli.md, the
// `xrole eval` case format) as JSON Lines on stdin and answers each with the decision of
// @cloud-copilot/iam-simulate, one JSON line per case, in order:
//   {"id": ..., "decision": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied"}
//   {"id": ..., "error": "..."}            when the oracle refuses the case
// Nothing else is written to stdout. `--stats` prints the throughput to stderr at the end.
//
// iam-simulate is AGPL-licensed. It is only ever run here, as a separate node process (or by
// the other scripts of this folder), to check xrole's answers in tests; it is never linked
// into or shipped with xrole.
//
// The cases go straight to the library's core engine (`authorize` of
// core_engine/CoreSimulatorEngine.js), not through its validating front end `runSimulation`:
// the front end rewrites its input (it keeps only the first value of a list given for a key it
// believes single-valued, drops context keys it thinks the action does not support, such as
// aws:ResourceTag/* for S3 without bucket ABAC, adds RCPFullAWSAccess to every RCP level, and
// splits wildcard resources into several simulations). Its other, input-preserving checks are
// reproduced here: the policy validators of @cloud-copilot/iam-policy, the action shape, and
// the rules that anonymous callers have no principal-side policies and that only roles,
// sessions and federated users have session policies. `runUnsafeSimulation`, the exported
// validation-free entry point, is not used because it ignores session policies.
//
// Mapping of a case:
//   identityPolicies      -> identity policies
//   permissionBoundaries  -> permission boundaries
//   sessionPolicy         -> the session policy; several session policies (OR) are merged
//                            into one document holding all their statements
//   resourcePolicy        -> the resource policy (the trust policy for sts:AssumeRole*)
//   scps / rcps           -> one control-policy level per LEVEL, root first, exactly as
//                            given (no RCPFullAWSAccess is added: a case states every level)
//   request.principal     -> the principal; "", "*" and "anonymous" -> an anonymous caller;
//                            a bare 12-digit account id -> arn:aws:iam::<id>:root (that
//                            account's root user, as in xrole's eval contract, docs/cli.md;
//                            the library would take the bare id for an unknown principal)
//   request.resource      -> the resource; "" or "*" -> "*" for an action that takes no
//                            resource (so only a literal "*" policy resource matches it)
//   resource account      -> request.resourceAccount, else the resource ARN's account, else
//                            the principal's account
//   context               -> strings as they are, numbers and booleans as their JSON text
//                            (as JavaScript prints them: 10.0 becomes "10"), arrays as
//                            multivalued keys
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// The package's "exports" map only exposes its front end, so the core engine's modules are
// loaded by file path from the installed package.
const simulateRoot = path.join(here, 'node_modules', '@cloud-copilot', 'iam-simulate', 'dist', 'esm');
const load = (relative) => import(pathToFileURL(path.join(simulateRoot, relative)).href);

const [core, requestModule, contextModule, discoveryModule, resourceStrings, iamPolicy] =
  await Promise.all([
    load('core_engine/CoreSimulatorEngine.js'),
    load('request/request.js'),
    load('requestContext.js'),
    load('context_keys/discoveryContextKeyConstraints.js'),
    load('util/resourceStrings.js'),
    import('@cloud-copilot/iam-policy')
  ]);

const { authorize } = core;
const { AwsRequestImpl } = requestModule;
const { RequestContextImpl } = contextModule;
const { expandShortArn } = resourceStrings;
const {
  loadPolicy,
  validatePolicySyntax,
  validateIdentityPolicy,
  validateResourcePolicy,
  validateServiceControlPolicy,
  validateSessionPolicy
} = iamPolicy;

const simulationParameters = {
  simulationMode: 'Strict',
  discoveryContextKeyConstraints: new discoveryModule.DiscoveryContextKeyConstraints([])
};

// RCP levels in a case carry their own full-access Allow (every level must allow), which the
// library's RCP validator would refuse (customer RCPs are deny-only): check syntax only.
const validateRcp = (policy) => validatePolicySyntax(policy, {});

const validators = {
  identity: validateIdentityPolicy,
  boundary: validateIdentityPolicy,
  session: validateSessionPolicy,
  resource: validateResourcePolicy,
  scp: validateServiceControlPolicy,
  rcp: validateRcp
};

class Refusal extends Error {}

// Loaded policies by kind and document text. Cases in differential runs share many documents.
const policyCache = new Map();
const kMaxCachedPolicies = 20000;

function loadChecked(kind, document, name, where) {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new Refusal(`${where}: policy must be an object`);
  }
  const key = kind + '\u0000' + JSON.stringify(document);
  let entry = policyCache.get(key);
  if (entry === undefined) {
    const errors = validators[kind](document);
    if (errors.length > 0) {
      entry = { errors };
    } else {
      entry = { policy: loadPolicy(document, { name }) };
    }
    if (policyCache.size >= kMaxCachedPolicies) policyCache.clear();
    policyCache.set(key, entry);
  }
  if (entry.errors) {
    const first = entry.errors[0];
    throw new Refusal(
      `policy.errors: ${where}${first.path ? '.' + first.path : ''}: ${first.message}`
    );
  }
  return entry.policy;
}

// POLICY: a document or {"name", "policy"}.
function unwrapPolicy(value) {
  if (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.prototype.hasOwnProperty.call(value, 'policy') &&
    !Object.prototype.hasOwnProperty.call(value, 'Statement')
  ) {
    return { name: typeof value.name === 'string' ? value.name : '', document: value.policy };
  }
  return { name: '', document: value };
}

function asArray(value, where) {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Refusal(`${where} must be an array`);
  return value;
}

// LEVEL: a document, an array of documents, or {"policies": [...]}.
function levelPolicies(level, where) {
  if (Array.isArray(level)) return level;
  if (level !== null && typeof level === 'object' && Array.isArray(level.policies)) {
    return level.policies;
  }
  return [level];
}

function loadLevels(levels, kind, where) {
  return asArray(levels, where).map((level, i) => ({
    orgIdentifier: `${kind}-level-${i}`,
    policies: levelPolicies(level, `${where}[${i}]`).map((p, j) => {
      const { name, document } = unwrapPolicy(p);
      return loadChecked(kind, document, name || `${where}[${i}][${j}]`, `${where}[${i}][${j}]`);
    })
  }));
}

// Several session policies are OR-ed: one document with all their statements.
function mergedSessionPolicy(value) {
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) return undefined;
  if (items.length === 1) {
    const { name, document } = unwrapPolicy(items[0]);
    return loadChecked('session', document, name || 'session[0]', 'sessionPolicy');
  }
  const statements = [];
  let version;
  items.forEach((item, i) => {
    const { document } = unwrapPolicy(item);
    // Validate each document on its own first so errors point at the right one.
    loadChecked('session', document, `session[${i}]`, `sessionPolicy[${i}]`);
    if (document.Version === '2012-10-17' || version === undefined) version = document.Version;
    const s = document.Statement;
    statements.push(...(Array.isArray(s) ? s : [s]));
  });
  const merged = { Statement: statements };
  if (version !== undefined) merged.Version = version;
  return loadChecked('session', merged, 'session', 'sessionPolicy');
}

function contextValues(context) {
  const out = {};
  if (context === undefined || context === null) return out;
  if (typeof context !== 'object' || Array.isArray(context)) {
    throw new Refusal('request.context must be an object');
  }
  for (const [key, value] of Object.entries(context)) {
    if (Array.isArray(value)) {
      out[key] = value.map((v) => scalarText(v, key));
    } else {
      out[key] = scalarText(value, key);
    }
  }
  return out;
}

function scalarText(value, key) {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
      return String(value);
    default:
      throw new Refusal(`request.context.${key}: unsupported value ${JSON.stringify(value)}`);
  }
}

const kAccountId = /^[0-9]{12}$/;

function arnAccount(arn) {
  if (typeof arn !== 'string' || !arn.startsWith('arn:')) return '';
  const fields = arn.split(':');
  return fields.length >= 6 ? fields[4] : '';
}

function isSessionCapable(principal) {
  return (
    /^arn:[^:]+:iam::[^:]*:role\//.test(principal) ||
    /^arn:[^:]+:sts::[^:]*:assumed-role\//.test(principal) ||
    /^arn:[^:]+:sts::[^:]*:federated-user\//.test(principal)
  );
}

// Evaluates one parsed case. Returns {id?, decision} or {id?, error}.
export function evaluateCase(evalCase) {
  const result = {};
  if (evalCase !== null && typeof evalCase === 'object' && 'id' in evalCase) {
    result.id = evalCase.id;
  }
  try {
    result.decision = decide(evalCase);
  } catch (e) {
    result.error = e instanceof Refusal ? e.message : `oracle failure: ${e && e.message}`;
  }
  return result;
}

function decide(evalCase) {
  if (evalCase === null || typeof evalCase !== 'object' || Array.isArray(evalCase)) {
    throw new Refusal('case must be an object');
  }
  const request = evalCase.request;
  if (request === null || typeof request !== 'object') throw new Refusal('request is required');
  const action = request.action;
  if (typeof action !== 'string' || action.split(':').length !== 2) {
    throw new Refusal('invalid.action');
  }
  const principalText = typeof request.principal === 'string' ? request.principal : '';
  const anonymous = principalText === '' || principalText === '*' || principalText === 'anonymous';

  const identityPolicies = asArray(evalCase.identityPolicies, 'identityPolicies').map((p, i) => {
    const { name, document } = unwrapPolicy(p);
    return loadChecked('identity', document, name || `identity[${i}]`, `identityPolicies[${i}]`);
  });
  const boundaryInput = evalCase.permissionBoundaries;
  const permissionBoundaries =
    boundaryInput === undefined || boundaryInput === null
      ? undefined
      : asArray(boundaryInput, 'permissionBoundaries').map((p, i) => {
          const { name, document } = unwrapPolicy(p);
          return loadChecked(
            'boundary', document, name || `boundary[${i}]`, `permissionBoundaries[${i}]`);
        });
  const sessionPolicy =
    evalCase.sessionPolicy === undefined || evalCase.sessionPolicy === null
      ? undefined
      : mergedSessionPolicy(evalCase.sessionPolicy);
  let resourcePolicy;
  if (evalCase.resourcePolicy !== undefined && evalCase.resourcePolicy !== null) {
    const { name, document } = unwrapPolicy(evalCase.resourcePolicy);
    resourcePolicy = loadChecked('resource', document, name || 'resource', 'resourcePolicy');
  }
  const serviceControlPolicies = loadLevels(evalCase.scps, 'scp', 'scps');
  const resourceControlPolicies = loadLevels(evalCase.rcps, 'rcp', 'rcps');

  if (anonymous) {
    if (identityPolicies.length > 0) throw new Refusal('anonymous.identityPolicies.invalid');
    if (permissionBoundaries && permissionBoundaries.length > 0) {
      throw new Refusal('anonymous.permissionBoundaryPolicies.invalid');
    }
    if (sessionPolicy) throw new Refusal('anonymous.sessionPolicy.invalid');
    if (serviceControlPolicies.length > 0) {
      throw new Refusal('anonymous.serviceControlPolicies.invalid');
    }
  } else if (sessionPolicy && !isSessionCapable(principalText)) {
    throw new Refusal('session.policy.invalid.principal');
  }

  const rawResource = typeof request.resource === 'string' ? request.resource : '';
  const resourceless = rawResource === '' || rawResource === '*';
  const resource = resourceless ? '*' : expandShortArn(rawResource);
  let accountId = typeof request.resourceAccount === 'string' ? request.resourceAccount : '';
  if (!accountId) accountId = arnAccount(rawResource);
  if (!accountId && !anonymous) {
    accountId = kAccountId.test(principalText) ? principalText : arnAccount(principalText);
  }

  const principal = kAccountId.test(principalText)
    ? `arn:aws:iam::${principalText}:root`
    : principalText;
  const awsRequest = new AwsRequestImpl(
    anonymous ? { type: 'Anonymous' } : principal,
    { resource, accountId },
    action,
    new RequestContextImpl(contextValues(request.context)),
    resourceless
  );
  const analysis = authorize({
    request: awsRequest,
    sessionPolicy,
    identityPolicies,
    serviceControlPolicies,
    resourceControlPolicies,
    resourcePolicy,
    permissionBoundaries,
    vpcEndpointPolicies: undefined,
    simulationParameters,
    serviceSettings: { s3: { blockPublicAccess: undefined } }
  });
  const decision = analysis.result;
  if (decision !== 'Allowed' && decision !== 'ExplicitlyDenied' && decision !== 'ImplicitlyDenied') {
    throw new Error(`unexpected result ${decision}`);
  }
  return decision;
}

// Answers one JSON line.
export function evaluateLine(line) {
  let parsed;
  try {
    parsed = JSON.parse(line);
  } catch (e) {
    return { error: `invalid json: ${e.message}` };
  }
  return evaluateCase(parsed);
}

async function main() {
  const stats = process.argv.includes('--stats');
  const started = process.hrtime.bigint();
  let count = 0;
  let pending = '';
  const write = (text) =>
    new Promise((resolve) => {
      if (process.stdout.write(text)) resolve();
      else process.stdout.once('drain', resolve);
    });
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop();
    let out = '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      out += JSON.stringify(evaluateLine(line)) + '\n';
      ++count;
    }
    if (out) await write(out);
  }
  if (pending.trim() !== '') {
    await write(JSON.stringify(evaluateLine(pending)) + '\n');
    ++count;
  }
  if (stats) {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    process.stderr.write(
      `${count} cases in ${seconds.toFixed(2)} s (${Math.round(count / seconds)} cases/s)\n`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
