// Compiled evaluator (with and without its action index) against the reference evaluator, on
// randomly generated policy sets and requests. Every request must get the same decision,
// deniedBy and reasons from all three. XROLE_DIFF_CASES sets the number of requests (default
// 1,000,000), XROLE_DIFF_SEED the seed; disagreeing cases are printed as eval-case JSON lines
// (and all of them written to $XROLE_DIFF_OUT when set) so they can become conformance cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "generator.h"
#include "policy/eval_case.h"
#include "xrole/policy.h"

namespace xrole::testing {
namespace {

using policy::Decision;
using policy::EvaluationResult;
using policy::Semantics;

constexpr std::uint64_t kDefaultSeed = 0x20261129;
// Requests asked against each generated policy set (parsed and compiled once).
constexpr std::size_t kRequestsPerSet = 64;
// For this many requests the generated Request is also read back from its JSON and compared.
constexpr std::size_t kRoundTripChecks = 20000;
constexpr std::size_t kShownDisagreements = 5;

std::uint64_t EnvNumber(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 0);
}

int DecisionIndex(Decision d) {
  switch (d) {
    case Decision::kAllowed:
      return 0;
    case Decision::kImplicitlyDenied:
      return 1;
    case Decision::kExplicitlyDenied:
      return 2;
  }
  return 1;
}

std::string Summary(const EvaluationResult& r) {
  std::string out(policy::DecisionName(r.decision));
  if (r.decision == Decision::kImplicitlyDenied) {
    out += "/";
    out += policy::LayerName(r.denied_by);
  }
  return out;
}

struct Stats {
  std::size_t cases = 0;
  std::size_t sets = 0;
  std::size_t parse_failures = 0;
  std::size_t compile_failures = 0;
  std::size_t round_trip_failures = 0;
  std::size_t disagreements = 0;
  std::array<std::size_t, 3> mix{};
  std::map<std::string, std::size_t> kinds;  // "reference -> compiled" summaries
  std::vector<std::string> shown;
  std::string shortest;
};

void RecordDisagreement(Stats& stats, const std::string& case_json, const EvaluationResult& ref,
                        const EvaluationResult& indexed, const EvaluationResult& scan,
                        std::ofstream* out) {
  ++stats.disagreements;
  std::string kind = Summary(ref) + " -> indexed " + Summary(indexed) + ", scan " + Summary(scan);
  if (ref.decision == indexed.decision && ref.decision == scan.decision &&
      ref.denied_by == indexed.denied_by && ref.denied_by == scan.denied_by) {
    kind += " (reasons differ)";
  }
  ++stats.kinds[kind];
  std::string text = case_json + "\n  reference: " + policy::FormatResult("", false, ref) +
                     "\n  indexed:   " + policy::FormatResult("", false, indexed) +
                     "\n  scan:      " + policy::FormatResult("", false, scan);
  if (stats.shown.size() < kShownDisagreements) stats.shown.push_back(text);
  if (stats.shortest.empty() || text.size() < stats.shortest.size()) stats.shortest = text;
  if (out != nullptr) *out << case_json << "\n";
}

Stats RunDifferential(const Semantics& semantics, std::size_t n, std::uint64_t seed) {
  Stats stats;
  Choices choices(seed);
  CaseGenerator generator(&choices);
  std::ofstream out_file;
  std::ofstream* out = nullptr;
  if (const char* path = std::getenv("XROLE_DIFF_OUT"); path != nullptr && *path != '\0') {
    out_file.open(path);
    out = &out_file;
  }
  policy::EvaluateOptions indexed_options;
  indexed_options.use_index = true;
  policy::EvaluateOptions scan_options;
  scan_options.use_index = false;

  while (stats.cases < n) {
    const std::string members = generator.PolicySetMembers();
    ++stats.sets;
    auto parsed = ParseCaseJson(CaseGenerator::CaseJson(
        "set", members, CaseGenerator::RepresentativeRequest(generator.profile())));
    if (!parsed.ok()) {
      if (++stats.parse_failures <= 5) {
        ADD_FAILURE() << "generated policy set rejected: " << parsed.error().ToString() << "\n"
                      << members;
      }
      stats.cases += kRequestsPerSet;  // never loop forever on a broken generator
      continue;
    }
    const policy::PolicySet& set = parsed->policies;
    auto compiled = policy::Compile(set, semantics);
    if (!compiled.ok()) {
      if (++stats.compile_failures <= 5) {
        ADD_FAILURE() << "compile failed: " << compiled.error().ToString() << "\n" << members;
      }
      stats.cases += kRequestsPerSet;
      continue;
    }
    for (std::size_t i = 0; i < kRequestsPerSet && stats.cases < n; ++i, ++stats.cases) {
      const GeneratedRequest generated = generator.NextRequest();
      const policy::Request request = generated.ToRequest();
      if (stats.cases < kRoundTripChecks) {
        auto again = ParseCaseJson(CaseGenerator::CaseJson("rt", members, generated));
        std::string diff = again.ok() ? DiffRequests(request, again->request)
                                      : "unparsable: " + again.error().ToString();
        if (again.ok() && again->policy_key != parsed->policy_key) diff = "policy kind changed";
        if (!diff.empty() && ++stats.round_trip_failures <= 5) {
          ADD_FAILURE() << "generated request does not round-trip through JSON (" << diff
                        << "): " << generated.ToJson();
        }
      }
      const EvaluationResult ref = policy::EvaluateReference(set, request, semantics);
      const EvaluationResult indexed = policy::Evaluate(**compiled, request, indexed_options);
      const EvaluationResult scan = policy::Evaluate(**compiled, request, scan_options);
      ++stats.mix[static_cast<std::size_t>(DecisionIndex(ref.decision))];
      if (!SameResult(ref, indexed) || !SameResult(ref, scan)) {
        RecordDisagreement(
            stats,
            CaseGenerator::CaseJson("diff-" + std::to_string(stats.cases), members, generated), ref,
            indexed, scan, out);
      }
    }
  }
  return stats;
}

void Report(const char* label, const Stats& s, double seconds) {
  auto pct = [&](std::size_t k) { return s.cases == 0 ? 0.0 : 100.0 * k / s.cases; };
  std::printf(
      "[%s] %zu cases over %zu policy sets in %.1f s (%.0f cases/s)\n"
      "[%s] mix: Allowed %.1f%%, ImplicitlyDenied %.1f%%, ExplicitlyDenied %.1f%%\n"
      "[%s] parse failures %zu, compile failures %zu, round-trip failures %zu, "
      "disagreements %zu\n",
      label, s.cases, s.sets, seconds, seconds > 0 ? s.cases / seconds : 0.0, label, pct(s.mix[0]),
      pct(s.mix[1]), pct(s.mix[2]), label, s.parse_failures, s.compile_failures,
      s.round_trip_failures, s.disagreements);
  for (const auto& [kind, count] : s.kinds) {
    std::printf("[%s]   %zu x %s\n", label, count, kind.c_str());
  }
  for (const std::string& text : s.shown)
    std::printf("[%s] DISAGREEMENT %s\n", label, text.c_str());
  if (!s.shortest.empty()) std::printf("[%s] SHORTEST %s\n", label, s.shortest.c_str());
  std::fflush(stdout);
}

void RunAndCheck(const char* label, const Semantics& semantics, std::uint64_t seed_offset) {
  const std::size_t n = EnvNumber("XROLE_DIFF_CASES", 1000000);
  const std::uint64_t seed = EnvNumber("XROLE_DIFF_SEED", kDefaultSeed) + seed_offset;
  const auto start = std::chrono::steady_clock::now();
  const Stats stats = RunDifferential(semantics, n, seed);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Report(label, stats, seconds);
  EXPECT_EQ(stats.parse_failures, 0u);
  EXPECT_EQ(stats.compile_failures, 0u);
  EXPECT_EQ(stats.round_trip_failures, 0u);
  EXPECT_EQ(stats.disagreements, 0u) << "compiled and reference evaluators disagree; the cases "
                                        "are printed above";
  // The generator must keep every outcome common, or the comparison proves little.
  if (stats.cases >= 10000) {
    for (std::size_t k = 0; k < 3; ++k) EXPECT_GT(stats.mix[k] * 10, stats.cases) << k;
  }
}

TEST(DifferentialTest, CompiledMatchesReferenceDocumented) {
  RunAndCheck("documented", Semantics::Documented(), 0);
}

TEST(DifferentialTest, CompiledMatchesReferenceOracleCompatible) {
  RunAndCheck("oracle-compatible", Semantics::OracleCompatible(), 1);
}

// The generator itself: deterministic, within the grammar, and covering the language.
TEST(GeneratorTest, SameSeedSameCases) {
  Choices a(42), b(42), c(43);
  CaseGenerator ga(&a), gb(&b), gc(&c);
  bool differs = false;
  for (int i = 0; i < 50; ++i) {
    std::string x = ga.NextCase("c");
    EXPECT_EQ(x, gb.NextCase("c"));
    differs = differs || x != gc.NextCase("c");
  }
  EXPECT_TRUE(differs);
}

TEST(GeneratorTest, WholeCasesParseAndCoverTheLanguage) {
  Choices choices(7);
  CaseGenerator generator(&choices);
  std::string all;
  int failures = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string text = generator.NextCase(std::to_string(i));
    auto parsed = ParseCaseJson(text);
    if (!parsed.ok() && ++failures <= 5) {
      ADD_FAILURE() << parsed.error().ToString() << "\n" << text;
    }
    all += text;
  }
  EXPECT_EQ(failures, 0);
  const char* kFeatures[] = {"\"NotAction\"",
                             "\"NotResource\"",
                             "\"NotPrincipal\"",
                             "\"Principal\":\"*\"",
                             "\"Service\"",
                             "\"Federated\"",
                             "2008-10-17",
                             "\"scps\"",
                             "\"rcps\"",
                             "\"permissionBoundaries\"",
                             "\"sessionPolicy\":[",
                             "\"sessionPolicy\":{",
                             "\"resourcePolicy\"",
                             "\"policies\":",
                             "\"name\":",
                             "sts:AssumeRole",
                             "kms:",
                             "dynamodb:",
                             "sqs:",
                             "ec2:",
                             "iam:",
                             "IfExists",
                             "ForAllValues:",
                             "ForAnyValue:",
                             "Null",
                             "${aws:username}",
                             "'eng'}",
                             "${*}",
                             "${?}",
                             "${$}",
                             "\"resourceAccount\"",
                             "[]",
                             "arn:aws:s3:*",
                             "\"resource\":\"*\"",
                             "\"resource\":\"\"",
                             "federated-user",
                             "assumed-role",
                             "\"principal\":\"\"",
                             "\"principal\":\"111122223333\"",
                             "lambda.amazonaws.com\",\"action",
                             "2001:db8::",
                             "1704067200",
                             "aGVsbG8="};
  for (const char* feature : kFeatures) {
    EXPECT_NE(all.find(feature), std::string::npos) << "never generated: " << feature;
  }
  for (const char* op : {"StringEquals",
                         "StringNotEquals",
                         "StringEqualsIgnoreCase",
                         "StringNotEqualsIgnoreCase",
                         "StringLike",
                         "StringNotLike",
                         "NumericEquals",
                         "NumericNotEquals",
                         "NumericLessThan",
                         "NumericLessThanEquals",
                         "NumericGreaterThan",
                         "NumericGreaterThanEquals",
                         "DateEquals",
                         "DateNotEquals",
                         "DateLessThan",
                         "DateLessThanEquals",
                         "DateGreaterThan",
                         "DateGreaterThanEquals",
                         "Bool",
                         "BinaryEquals",
                         "IpAddress",
                         "NotIpAddress",
                         "ArnEquals",
                         "ArnLike",
                         "ArnNotEquals",
                         "ArnNotLike",
                         "Null"}) {
    EXPECT_NE(all.find(std::string("\"") + op), std::string::npos) << "never generated: " << op;
  }
}

}  // namespace
}  // namespace xrole::testing
