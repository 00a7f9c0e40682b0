// policy_eval_bench.cc: throughput of the policy engine on the shared workloads
// (bench/workloads/<n>stmt.json, made by scripts/bench/make_workload.py and also run through
// iam-simulate and Cedar by bench/node/compare.mjs), and compile time of every AWS managed
// policy. scripts/bench/compare.sh runs it and builds the comparison table.
//
//   BM_Evaluate/<n>            compiled evaluator, one request per iteration, cycling over the
//                              workload's requests (items/s = decisions/s, one thread)
//   BM_EvaluateReference/<n>   the reference evaluator on the same requests
//   BM_ParseManagedPolicies    ParsePolicy of every AWS managed policy (default versions)
//   BM_CompileManagedPolicies  ParsePolicy + Compile of all of them as one identity policy set
//
// Rates are per wall-clock second (UseRealTime), the clock compare.mjs uses for the other
// engines; cpu_time in the JSON output gives the per-CPU-second figures.
//
// Before timing, every decision is checked against the workload's expected decision; the
// `mismatches` counter must be 0. Extra flag: --decisions_out=DIR writes xrole's decisions as
// DIR/<n>stmt.decisions.json for compare.mjs to check the other engines against.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json.h"
#include "xrole/policy.h"

namespace xrole::policy {
namespace {

constexpr int kSizes[] = {10, 100, 1000};

std::string WorkloadDir() {
  if (const char* dir = std::getenv("XROLE_BENCH_WORKLOADS")) return dir;
  return XROLE_SOURCE_DIR "/bench/workloads";
}

std::string ManagedPoliciesPath() {
  if (const char* path = std::getenv("XROLE_MANAGED_POLICIES")) return path;
  return XROLE_SOURCE_DIR "/../shared/data/aws-managed-policies/managed_policies_latest.jsonl.gz";
}

struct Workload {
  PolicySet set;
  std::vector<Request> requests;
  std::vector<std::string> expected;  // DecisionName of the expected decision, per request
  std::shared_ptr<const CompiledPolicySet> compiled;
};

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kNotFound, "cannot open `" + path + "`");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const json::Value* Member(const json::Value& object, std::string_view name) {
  return object.is_object() ? object.Find(name) : nullptr;
}

std::string StringMember(const json::Value& object, std::string_view name) {
  const json::Value* v = Member(object, name);
  return v != nullptr && v->is_string() ? v->text() : std::string();
}

Result<Workload> LoadWorkload(int statements) {
  const std::string path = WorkloadDir() + "/" + std::to_string(statements) + "stmt.json";
  XROLE_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  XROLE_ASSIGN_OR_RETURN(std::unique_ptr<json::Value> root,
                         json::Parse(text, json::Limits{.max_bytes = 64u << 20}));
  const json::Value* iam = Member(*root, "iam");
  const json::Value* policies = iam != nullptr ? Member(*iam, "policies") : nullptr;
  const json::Value* requests = Member(*root, "requests");
  if (policies == nullptr || !policies->is_array() || requests == nullptr ||
      !requests->is_array()) {
    return Error(ErrorCode::kInvalidArgument,
                 "`" + path + "`: missing `iam.policies` or `requests`");
  }
  Workload workload;
  for (const auto& p : policies->items()) {
    const json::Value* document = Member(*p, "document");
    if (document == nullptr) {
      return Error(ErrorCode::kInvalidArgument, "`" + path + "`: policy without `document`");
    }
    XROLE_ASSIGN_OR_RETURN(Policy policy, ParsePolicy(document->ToJson(), PolicyKind::kIdentity,
                                                      StringMember(*p, "name")));
    workload.set.identity.push_back(std::move(policy));
  }
  for (const auto& r : requests->items()) {
    Request request;
    request.principal = StringMember(*r, "principal");
    request.action = StringMember(*r, "action");
    request.resource = StringMember(*r, "resource");
    request.resource_account = StringMember(*r, "resource_account");
    if (const json::Value* context = Member(*r, "context"); context != nullptr) {
      for (const auto& m : context->members()) {
        if (m.value->is_array()) {
          std::vector<std::string> values;
          for (const auto& v : m.value->items()) values.push_back(v->text());
          request.context.Set(m.name, ContextValue::List(std::move(values)));
        } else {
          request.context.Set(m.name, ContextValue::Scalar(m.value->text()));
        }
      }
    }
    workload.expected.push_back(StringMember(*r, "expected"));
    workload.requests.push_back(std::move(request));
  }
  if (workload.requests.empty()) {
    return Error(ErrorCode::kInvalidArgument, "`" + path + "`: no requests");
  }
  XROLE_ASSIGN_OR_RETURN(workload.compiled, Compile(workload.set));
  return workload;
}

// Loaded once per size; the error text when a workload cannot be used.
const Result<Workload>& GetWorkload(int statements) {
  static std::map<int, Result<Workload>>* cache = new std::map<int, Result<Workload>>();
  auto it = cache->find(statements);
  if (it == cache->end()) it = cache->emplace(statements, LoadWorkload(statements)).first;
  return it->second;
}

// Decides every request once with `decide` and counts disagreements with the expected decisions.
template <typename Decide>
void CheckAndCount(benchmark::State& state, const char* label, const Workload& workload,
                   Decide decide) {
  int mismatches = 0, allowed = 0, explicit_deny = 0, implicit_deny = 0;
  for (std::size_t i = 0; i < workload.requests.size(); ++i) {
    const Decision decision = decide(workload.requests[i]);
    if (DecisionName(decision) != workload.expected[i]) ++mismatches;
    if (decision == Decision::kAllowed) ++allowed;
    if (decision == Decision::kExplicitlyDenied) ++explicit_deny;
    if (decision == Decision::kImplicitlyDenied) ++implicit_deny;
  }
  state.counters["mismatches"] = mismatches;
  state.counters["allowed"] = allowed;
  state.counters["explicit_deny"] = explicit_deny;
  state.counters["implicit_deny"] = implicit_deny;
  if (mismatches > 0) {
    std::fprintf(stderr, "warning: %s/%lld: %d of %zu decisions differ from the expected ones\n",
                 label, static_cast<long long>(state.range(0)), mismatches,
                 workload.requests.size());
  }
}

void BM_Evaluate(benchmark::State& state) {
  const Result<Workload>& workload = GetWorkload(static_cast<int>(state.range(0)));
  if (!workload.ok()) {
    state.SkipWithError(workload.error().ToString().c_str());
    return;
  }
  const CompiledPolicySet& compiled = *workload->compiled;
  const std::vector<Request>& requests = workload->requests;
  CheckAndCount(state, "BM_Evaluate", *workload,
                [&](const Request& r) { return Evaluate(compiled, r).decision; });
  std::size_t i = 0;
  for (auto _ : state) {
    EvaluationResult result = Evaluate(compiled, requests[i]);
    benchmark::DoNotOptimize(result);
    if (++i == requests.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Evaluate)->Arg(10)->Arg(100)->Arg(1000)->UseRealTime();

void BM_EvaluateReference(benchmark::State& state) {
  const Result<Workload>& workload = GetWorkload(static_cast<int>(state.range(0)));
  if (!workload.ok()) {
    state.SkipWithError(workload.error().ToString().c_str());
    return;
  }
  const PolicySet& set = workload->set;
  const std::vector<Request>& requests = workload->requests;
  CheckAndCount(state, "BM_EvaluateReference", *workload,
                [&](const Request& r) { return EvaluateReference(set, r).decision; });
  std::size_t i = 0;
  for (auto _ : state) {
    EvaluationResult result = EvaluateReference(set, requests[i]);
    benchmark::DoNotOptimize(result);
    if (++i == requests.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EvaluateReference)->Arg(10)->UseRealTime();

struct ManagedPolicy {
  std::string name;
  std::string document;  // the policy document as JSON text
};

// Reads the default version of every AWS managed policy (gunzip through `gzip -dc`). Empty with
// `error` set when the data is absent or unreadable.
std::vector<ManagedPolicy> ReadManagedPolicies(std::string& error) {
  std::vector<ManagedPolicy> policies;
  const std::string path = ManagedPoliciesPath();
  if (std::FILE* f = std::fopen(path.c_str(), "rb"); f != nullptr) {
    std::fclose(f);
  } else {
    error = "managed policies not found at `" + path + "`";
    return policies;
  }
  const std::string command = "gzip -dc '" + path + "'";
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    error = "cannot run `" + command + "`";
    return policies;
  }
  std::string text;
  char buffer[1 << 16];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) text.append(buffer, n);
  if (pclose(pipe) != 0) {
    error = "`" + command + "` failed";
    return {};
  }
  std::size_t start = 0;
  int line = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++line;
    const std::string_view row(text.data() + start, end - start);
    start = end + 1;
    if (row.empty()) continue;
    Result<std::unique_ptr<json::Value>> value = json::Parse(row, {}, line);
    const json::Value* document = value.ok() ? Member(**value, "document") : nullptr;
    if (document == nullptr) {
      error = "`" + path + "` line " + std::to_string(line) + ": no policy document";
      return {};
    }
    policies.push_back({StringMember(**value, "name"), document->ToJson()});
  }
  return policies;
}

const std::vector<ManagedPolicy>& ManagedPolicies(std::string& error) {
  static std::string* load_error = new std::string();
  static std::vector<ManagedPolicy>* policies =
      new std::vector<ManagedPolicy>(ReadManagedPolicies(*load_error));
  error = *load_error;
  return *policies;
}

void BM_ParseManagedPolicies(benchmark::State& state) {
  std::string error;
  const std::vector<ManagedPolicy>& policies = ManagedPolicies(error);
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  int failures = 0;
  for (auto _ : state) {
    failures = 0;
    for (const ManagedPolicy& p : policies) {
      Result<Policy> policy = ParsePolicy(p.document, PolicyKind::kIdentity, p.name);
      if (!policy.ok()) ++failures;
      benchmark::DoNotOptimize(policy);
    }
  }
  state.counters["policies"] = static_cast<double>(policies.size());
  state.counters["parse_failures"] = failures;
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(policies.size()));
}
BENCHMARK(BM_ParseManagedPolicies)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CompileManagedPolicies(benchmark::State& state) {
  std::string error;
  const std::vector<ManagedPolicy>& policies = ManagedPolicies(error);
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  int failures = 0;
  std::size_t compiled_policies = 0;
  for (auto _ : state) {
    failures = 0;
    PolicySet set;
    set.identity.reserve(policies.size());
    for (const ManagedPolicy& p : policies) {
      Result<Policy> policy = ParsePolicy(p.document, PolicyKind::kIdentity, p.name);
      if (policy.ok()) {
        set.identity.push_back(std::move(policy).value());
      } else {
        ++failures;
      }
    }
    compiled_policies = set.identity.size();
    Result<std::shared_ptr<const CompiledPolicySet>> compiled = Compile(set);
    if (!compiled.ok()) {
      state.SkipWithError(("compile failed: " + compiled.error().ToString()).c_str());
      return;
    }
    benchmark::DoNotOptimize(compiled);
  }
  state.counters["policies"] = static_cast<double>(compiled_policies);
  state.counters["parse_failures"] = failures;
}
BENCHMARK(BM_CompileManagedPolicies)->Unit(benchmark::kMillisecond)->UseRealTime();

// Writes xrole's decision on every request of every workload to dir/<n>stmt.decisions.json.
bool WriteDecisions(const std::string& dir) {
  bool ok = true;
  for (int size : kSizes) {
    const Result<Workload>& workload = GetWorkload(size);
    if (!workload.ok()) {
      std::fprintf(stderr, "skipping %dstmt: %s\n", size, workload.error().ToString().c_str());
      continue;
    }
    std::string out = "{\"statements\":" + std::to_string(size) + ",\"decisions\":[";
    for (std::size_t i = 0; i < workload->requests.size(); ++i) {
      if (i > 0) out += ',';
      json::AppendQuoted(
          out, DecisionName(Evaluate(*workload->compiled, workload->requests[i]).decision));
    }
    out += "]}\n";
    const std::string path = dir + "/" + std::to_string(size) + "stmt.decisions.json";
    std::ofstream file(path, std::ios::binary);
    file << out;
    if (!file) {
      std::fprintf(stderr, "cannot write `%s`\n", path.c_str());
      ok = false;
    }
  }
  return ok;
}

}  // namespace
}  // namespace xrole::policy

int main(int argc, char** argv) {
  std::string decisions_out;
  // Take out our own flag before Google Benchmark sees the arguments.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    constexpr std::string_view kFlag = "--decisions_out=";
    const std::string_view arg = argv[i];
    if (arg.substr(0, kFlag.size()) == kFlag) {
      decisions_out = std::string(arg.substr(kFlag.size()));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!decisions_out.empty() && !xrole::policy::WriteDecisions(decisions_out)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
