// Parses real policies: every stored version of every AWS managed policy, the example policies
// of AWS's IAM user guide, and moto's IAM CreatePolicy validation cases (which mirror IAM's own
// accept/reject decisions and messages). The data lives outside the repository; each test skips
// when it is absent.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "policy/lint.h"
#include "policy/parser.h"
#include "xrole/policy.h"

namespace xrole::policy {
namespace {

const std::string kDataDir = XROLE_SOURCE_DIR "/../shared/data";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Gunzip(const std::string& path) {
  std::string out;
  FILE* pipe = popen(("gzip -dc '" + path + "'").c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[1 << 16];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  pclose(pipe);
  return out;
}

TEST(RealPoliciesTest, EveryAwsManagedPolicyVersionParsesAsIdentityPolicy) {
  const std::string path = kDataDir + "/aws-managed-policies/managedPolicies.json.gz";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no managed policy data at " << path;
  const nlohmann::json all = nlohmann::json::parse(Gunzip(path), nullptr, false);
  ASSERT_FALSE(all.is_discarded());
  int versions = 0;
  int failures = 0;
  std::size_t largest = 0;
  for (const auto& [name, policy] : all.items()) {
    for (const auto& [version_id, version] : policy["versions"].items()) {
      ++versions;
      const std::string text = version["document"].dump(2);
      auto doc = ParseDocumentText(text, PolicyKind::kIdentity);
      if (!doc.ok()) {
        ++failures;
        ADD_FAILURE() << name << " " << version_id << ": " << doc.error().ToString();
        continue;
      }
      largest = std::max(largest, (*doc)->size_without_whitespace);
    }
  }
  std::printf(
      "aws managed policies: %zu policies, %d versions parsed, %d failures, largest %zu "
      "characters without whitespace\n",
      all.size(), versions, failures, largest);
  EXPECT_EQ(versions, 6194);
  EXPECT_EQ(failures, 0);
}

// Documentation examples we reject, each for a rule AWS states (key: source_file#block_index).
const std::map<std::string, std::string>& DocExampleExceptions() {
  static const auto* exceptions = new std::map<std::string, std::string>{};
  return *exceptions;
}

TEST(RealPoliciesTest, AwsDocumentationExamplesParse) {
  const std::string path = kDataDir + "/aws-docs-example-policies/policies.jsonl";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no documentation examples at " << path;
  std::ifstream in(path);
  std::string line;
  int total = 0, parsed = 0, excepted = 0;
  std::map<PolicyKind, int> by_kind;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json entry = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(entry.is_discarded());
    ++total;
    const std::string key = entry["source_file"].get<std::string>() + "#" +
                            std::to_string(entry["block_index"].get<int>());
    const std::string text = entry["policy"].dump(2);
    const std::string guess = entry["kind_guess"].get<std::string>();
    const PolicyKind kind = guess == "resource_or_trust_policy"
                                ? DetectPolicyKind(text, PolicyKind::kResource)
                                : PolicyKind::kIdentity;
    ++by_kind[kind];
    auto doc = ParseDocumentText(text, kind);
    auto exception = DocExampleExceptions().find(key);
    if (doc.ok()) {
      ++parsed;
      EXPECT_EQ(exception, DocExampleExceptions().end()) << key << " now parses";
    } else if (exception != DocExampleExceptions().end()) {
      ++excepted;
    } else {
      ADD_FAILURE() << key << " (" << PolicyKindName(kind) << "): " << doc.error().ToString()
                    << "\n"
                    << entry["policy"].dump();
    }
  }
  std::printf(
      "aws documentation examples: %d total, %d parsed (identity %d, resource %d, trust "
      "%d), %d justified exceptions\n",
      total, parsed, by_kind[PolicyKind::kIdentity], by_kind[PolicyKind::kResource],
      by_kind[PolicyKind::kTrust], excepted);
  EXPECT_EQ(total, 275);
  EXPECT_EQ(parsed + excepted, total);
}

// How IAM's message for a rejected document classifies the problem, and the finding codes of
// ours that name the same problem. Parser errors carry code "invalid-policy"/"invalid-json".
struct MessageClass {
  std::string_view iam_keyword;
  std::vector<std::string_view> our_codes;
  std::string_view our_message_keyword;  // alternative: a phrase in our parser message
};

const std::vector<MessageClass>& MessageClasses() {
  static const auto* classes = new std::vector<MessageClass>{
      {"must be version 2012-10-17", {"missing-version", "old-version"}, ""},
      {"Syntax errors in policy", {"invalid-json", "invalid-policy"}, ""},
      {"must contain resources", {"empty-resource"}, "missing `Resource`"},
      {"must contain actions", {"empty-action"}, "missing `Action`"},
      {"prefaced by a vendor", {"invalid-action"}, ""},
      {"only one colon", {"invalid-action"}, ""},
      {"Vendor ", {"invalid-service", "wildcard-in-service"}, ""},
      {"must be in ARN format", {"invalid-arn"}, ""},
      // IAM reads any `x:partition:...` as an ARN and blames the partition; we say the resource
      // is not an ARN. Both name the malformed resource ARN.
      {"Partition ", {"invalid-arn-partition", "invalid-arn"}, ""},
      {"vendor must be fully qualified", {"invalid-arn", "wildcard-in-arn-service"}, ""},
      {"IAM resource", {"invalid-arn"}, ""},
      {"region information", {"invalid-arn"}, ""},
      {"(SID)", {"duplicate-sid"}, ""},
  };
  return *classes;
}

// Our verdict on one document under IAM CreatePolicy's rules: the first error, if any.
std::optional<Finding> FirstError(const std::string& text) {
  LintOptions options;
  options.iam_create_policy_rules = true;
  // No catalogue: CreatePolicy does not check action names against the service catalogue
  // (moto's valid cases include `fsx:ListBucket` and made-up services).
  for (const Finding& f : LintPolicy(text, PolicyKind::kIdentity, nullptr, options)) {
    if (f.severity == Severity::kError) return f;
  }
  return std::nullopt;
}

TEST(RealPoliciesTest, MotoIamValidationCases) {
  const std::string path = kDataDir + "/moto-iam-policy-validation/policy_validation_cases.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no moto cases at " << path;
  const nlohmann::json cases = nlohmann::json::parse(ReadFile(path), nullptr, false);
  ASSERT_FALSE(cases.is_discarded());

  int rejected = 0, same_problem = 0, specific = 0, legacy = 0;
  for (const auto& c : cases["invalid"]) {
    const std::string id = c["id"].get<std::string>();
    const std::string iam_message = c["error_message"].get<std::string>();
    // A document given as a string is the raw text (invalid-000 is not JSON).
    const std::string text =
        c["document"].is_string() ? c["document"].get<std::string>() : c["document"].dump(2);
    const std::optional<Finding> ours = FirstError(text);
    if (!ours.has_value()) {
      ADD_FAILURE() << id << " accepted; IAM: " << iam_message << "\n" << text;
      continue;
    }
    ++rejected;
    // Also through the public API, when the parser is the one rejecting.
    if (ours->code == "invalid-policy" || ours->code == "invalid-json") {
      EXPECT_FALSE(ParsePolicy(text, PolicyKind::kIdentity).ok()) << id;
    }
    if (iam_message.find("legacy parsing") != std::string::npos) {
      ++legacy;  // IAM names no specific problem
      continue;
    }
    ++specific;
    bool matched = false;
    for (const MessageClass& mc : MessageClasses()) {
      if (iam_message.find(mc.iam_keyword) == std::string::npos) continue;
      for (std::string_view code : mc.our_codes) matched = matched || ours->code == code;
      if (!mc.our_message_keyword.empty() &&
          ours->message.find(mc.our_message_keyword) != std::string::npos) {
        matched = true;
      }
      break;
    }
    if (matched) {
      ++same_problem;
    } else {
      std::printf("  %s: IAM `%s`, ours %s `%s`\n", id.c_str(), iam_message.c_str(),
                  ours->code.c_str(), ours->message.c_str());
    }
  }

  // Valid cases our linter rejects, each for a documented rule.
  const std::map<std::string, std::string> valid_exceptions = {
      {"valid-030",
       "IAM's legacy date parser accepts `01T`; the documented date format is the W3C profile "
       "of ISO 8601 or epoch seconds (iam-semantics.md 3.5), so we report an invalid date"},
      {"valid-036",
       "IAM accepts `2016-12-13t2:00:00.593194+23` (lowercase `t`, one-digit hour, `+23`); the "
       "W3C profile requires `T`, `hh` and a `+hh:mm` offset"},
  };
  int accepted = 0, excepted = 0;
  std::size_t parse_failures = 0;
  for (const auto& c : cases["valid"]) {
    const std::string id = c["id"].get<std::string>();
    const std::string text = c["document"].dump(2);
    auto policy = ParsePolicy(text, PolicyKind::kIdentity);
    if (!policy.ok()) ++parse_failures;
    EXPECT_TRUE(policy.ok()) << id << ": " << (policy.ok() ? "" : policy.error().ToString());
    const std::optional<Finding> ours = FirstError(text);
    if (policy.ok() && !ours.has_value()) {
      ++accepted;
      EXPECT_EQ(valid_exceptions.count(id), 0u) << id << " is now accepted";
    } else if (ours.has_value() && valid_exceptions.count(id) > 0 &&
               ours->code == "invalid-condition-value") {
      ++excepted;
    } else if (ours.has_value()) {
      ADD_FAILURE() << id << " rejected: " << ours->code << " " << ours->message << " ["
                    << ours->path << "]\n"
                    << text;
    }
  }
  std::printf(
      "moto IAM validation cases: %d/%zu invalid rejected; %zu/%zu valid parsed, %d lint-clean, "
      "%d justified date exceptions; our first error names the same problem as IAM's message "
      "in %d of %d cases with a specific IAM message (%d more say only `the policy failed "
      "legacy parsing`)\n",
      rejected, cases["invalid"].size(), cases["valid"].size() - parse_failures,
      cases["valid"].size(), accepted, excepted, same_problem, specific, legacy);
  EXPECT_EQ(rejected, 78);
  EXPECT_EQ(parse_failures, 0u);
  EXPECT_EQ(accepted + excepted, 54);
  EXPECT_GE(same_problem, 58);
}

}  // namespace
}  // namespace xrole::policy
