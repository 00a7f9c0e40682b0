// xrole against the external oracle (@cloud-copilot/iam-simulate, run by node through
// tests/oracle/run_oracle.mjs as a separate process). Generated cases go to the oracle in one
// JSON Lines batch; its decision must equal the compiled engine's under
// Semantics::OracleCompatible(), which reproduces the oracle's known departures from AWS's
// documentation. Cases the oracle refuses are counted, not failed. XROLE_ORACLE_CASES sets the
// number of cases (default 20,000), XROLE_ORACLE_SEED the seed. Skipped when node or
// tests/oracle/node_modules is missing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/json.h"
#include "generator.h"
#include "policy/eval_case.h"
#include "xrole/policy.h"

namespace xrole::testing {
namespace {

using policy::Semantics;

constexpr std::uint64_t kDefaultSeed = 0x0AC1E;
constexpr std::size_t kRequestsPerSet = 4;
constexpr std::size_t kShown = 10;

std::uint64_t EnvNumber(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 0);
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

TEST(OracleDiffTest, EngineMatchesOracleUnderOracleCompatibleSemantics) {
  namespace fs = std::filesystem;
  const fs::path oracle_dir = fs::path(XROLE_SOURCE_DIR) / "tests" / "oracle";
  if (std::system("node --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "node not found";
  if (!fs::exists(oracle_dir / "node_modules" / "@cloud-copilot" / "iam-simulate")) {
    GTEST_SKIP() << "oracle not installed: run `npm ci` in tests/oracle";
  }
  if (!fs::exists(oracle_dir / "run_oracle.mjs")) GTEST_SKIP() << "run_oracle.mjs missing";

  const std::size_t n = EnvNumber("XROLE_ORACLE_CASES", 20000);
  const std::uint64_t seed = EnvNumber("XROLE_ORACLE_SEED", kDefaultSeed);

  // Generate.
  auto start = std::chrono::steady_clock::now();
  Choices choices(seed);
  GeneratorOptions options;
  options.oracle_inputs = true;
  CaseGenerator generator(&choices, options);
  std::vector<std::string> cases;
  cases.reserve(n);
  while (cases.size() < n) {
    const std::string members = generator.PolicySetMembers();
    for (std::size_t i = 0; i < kRequestsPerSet && cases.size() < n; ++i) {
      cases.push_back(CaseGenerator::CaseJson("c" + std::to_string(cases.size()), members,
                                              generator.NextRequest()));
    }
  }
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("xrole_oracle_diff_" + std::to_string(seed) + "_" +
                                        std::to_string(n) + "_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path in_path = dir / "cases.jsonl";
  const fs::path out_path = dir / "oracle.jsonl";
  {
    std::ofstream in(in_path);
    for (const std::string& c : cases) in << c << '\n';
  }

  // Ask the oracle, once for all cases.
  auto oracle_start = std::chrono::steady_clock::now();
  const std::string command = "node " + ShellQuote((oracle_dir / "run_oracle.mjs").string()) +
                              " < " + ShellQuote(in_path.string()) + " > " +
                              ShellQuote(out_path.string());
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const double oracle_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - oracle_start).count();
  std::vector<std::string> answers;
  {
    std::ifstream out(out_path);
    for (std::string line; std::getline(out, line);) answers.push_back(line);
  }
  ASSERT_EQ(answers.size(), cases.size()) << "the oracle must answer every case, in order";

  // Compare.
  std::size_t agree = 0, oracle_errors = 0, disagreements = 0, ours_unparsable = 0;
  std::size_t documented_differs = 0, reference_vs_compiled = 0;
  std::map<std::string, std::size_t> error_kinds, disagreement_kinds;
  std::vector<std::string> shown;
  std::ofstream disagreeing(dir / "disagreements.tsv");
  const Semantics oracle_semantics = Semantics::OracleCompatible();
  const Semantics documented = Semantics::Documented();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto answer = json::Parse(answers[i]);
    ASSERT_TRUE(answer.ok()) << answers[i];
    const json::Value* id = (*answer)->Find("id");
    ASSERT_TRUE(id != nullptr && id->text() == "c" + std::to_string(i)) << answers[i];
    auto parsed = ParseCaseJson(cases[i]);
    if (!parsed.ok()) {
      ++ours_unparsable;
      ADD_FAILURE() << "generated case rejected: " << parsed.error().ToString() << "\n" << cases[i];
      continue;
    }
    const policy::PolicySet& set = parsed->policies;
    const policy::Request& request = parsed->request;
    auto compiled = policy::Compile(set, oracle_semantics);
    ASSERT_TRUE(compiled.ok()) << compiled.error().ToString();
    const policy::EvaluationResult ours = policy::Evaluate(**compiled, request);
    const policy::EvaluationResult ref = policy::EvaluateReference(set, request, oracle_semantics);
    if (!SameResult(ours, ref)) ++reference_vs_compiled;
    if (policy::EvaluateReference(set, request, documented).decision != ref.decision) {
      ++documented_differs;
    }
    if (const json::Value* error = (*answer)->Find("error")) {
      ++oracle_errors;
      std::string kind = error->text().substr(0, 60);
      ++error_kinds[kind];
      continue;
    }
    const json::Value* decision = (*answer)->Find("decision");
    ASSERT_TRUE(decision != nullptr) << answers[i];
    if (decision->text() == policy::DecisionName(ours.decision)) {
      ++agree;
      continue;
    }
    ++disagreements;
    disagreeing << cases[i] << "\t" << decision->text() << "\t"
                << policy::FormatResult("", false, ours) << '\n';
    ++disagreement_kinds["oracle " + decision->text() + ", xrole " +
                         std::string(policy::DecisionName(ours.decision))];
    if (shown.size() < kShown) {
      shown.push_back(cases[i] + "\n  oracle: " + decision->text() +
                      "\n  xrole:  " + policy::FormatResult("", false, ours));
    }
  }
  const double total_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf(
      "[oracle] cases %zu, agreement %zu, disagreements %zu, oracle errors %zu, "
      "unparsable %zu\n"
      "[oracle] decisions that differ between Documented() and OracleCompatible(): %zu\n"
      "[oracle] compiled vs reference (OracleCompatible) mismatches: %zu\n"
      "[oracle] oracle %.1f s, total %.1f s\n",
      cases.size(), agree, disagreements, oracle_errors, ours_unparsable, documented_differs,
      reference_vs_compiled, oracle_seconds, total_seconds);
  for (const auto& [kind, count] : error_kinds) {
    std::printf("[oracle]   error %zu x %s\n", count, kind.c_str());
  }
  for (const auto& [kind, count] : disagreement_kinds) {
    std::printf("[oracle]   %zu x %s\n", count, kind.c_str());
  }
  for (const std::string& s : shown) std::printf("[oracle] DISAGREEMENT %s\n", s.c_str());
  std::fflush(stdout);

  EXPECT_EQ(disagreements, 0u) << "xrole (OracleCompatible) and the oracle disagree; see above";
  EXPECT_EQ(reference_vs_compiled, 0u);
  EXPECT_EQ(ours_unparsable, 0u);
  // Refusals must stay rare, or the comparison covers little.
  EXPECT_LT(oracle_errors * 20, cases.size()) << "over 5% of the cases refused by the oracle";
  disagreeing.close();
  if (disagreements == 0) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  } else {
    std::printf("[oracle] all disagreements (case, oracle, xrole): %s\n",
                (dir / "disagreements.tsv").c_str());
  }
}

}  // namespace
}  // namespace xrole::testing
