// conformance_test.cc: runs the conformance cases of tests/conformance/cases/*.yaml (AWS's
// documented IAM evaluation behaviour, iam-semantics.md section 7 and more) through both
// evaluators. Each YAML case becomes the JSON text of an evaluation case (design contract 4.1),
// is parsed with json::Parse and ParseEvalCase exactly as `xrole eval` would, and is then
// evaluated by EvaluateReference and by Evaluate on the compiled set. Each case is one test,
// named after its file and index, asserting the decision and, when the case gives them, the
// exact set of reasons and the denying layer. Cases expecting an error assert that parsing
// fails with a message containing the given text.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "gtest/gtest.h"
#include "policy/eval_case.h"
#include "xrole/policy.h"

namespace xrole::policy {
namespace {

const char kCasesDir[] = XROLE_SOURCE_DIR "/tests/conformance/cases";

// The members a case may have; anything else is a typo in the case file.
const char* const kCaseMembers[] = {"name",
                                    "source",
                                    "note",
                                    "identityPolicies",
                                    "permissionBoundaries",
                                    "sessionPolicy",
                                    "resourcePolicy",
                                    "scps",
                                    "rcps",
                                    "request",
                                    "expect",
                                    "oracle",
                                    "fidelity"};
// The members copied into the evaluation case, in this order.
const char* const kEvalMembers[] = {
    "identityPolicies", "permissionBoundaries", "sessionPolicy", "resourcePolicy", "scps", "rcps",
    "request"};

using ReasonKey = std::pair<std::string, int>;  // (policy label, statement index)

struct ConformanceCase {
  std::string file;
  int index = 0;
  std::string test_name;                    // file stem + "_" + index
  std::string name;                         // the case's own description
  std::string eval_json;                    // the evaluation case, one JSON object
  std::optional<std::string> expect_error;  // substring of the expected error ("" = any)
  std::string expect_decision;
  std::optional<std::set<ReasonKey>> expect_reasons;
  std::optional<std::string> expect_denied_by;
};

// How gtest shows a case (instead of its bytes).
void PrintTo(const ConformanceCase& c, std::ostream* os) {
  *os << c.file << "#" << c.index << ": " << c.name;
}

// A YAML plain scalar that reads as a JSON number: integers and decimals only.
bool IsPlainNumber(const std::string& s) {
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  if (s[i] == '0' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
    return false;  // leading zero: not a JSON number, keep as text
  }
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  }
  return i == s.size();
}

// Appends `node` as JSON. Scalars: a quoted YAML scalar (tag "!") is always a string; a plain
// one (tag "?") is a boolean for true/false, null for null/~, a number for integers/decimals,
// and a string otherwise.
void AppendJson(const YAML::Node& node, std::string& out) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out += "null";
      return;
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() != "!") {
        if (text == "true" || text == "false" || text == "null") {
          out += text;
          return;
        }
        if (text == "~") {
          out += "null";
          return;
        }
        if (IsPlainNumber(text)) {
          out += text;
          return;
        }
      }
      json::AppendQuoted(out, text);
      return;
    }
    case YAML::NodeType::Sequence: {
      out += '[';
      bool first = true;
      for (const YAML::Node& item : node) {
        if (!first) out += ',';
        first = false;
        AppendJson(item, out);
      }
      out += ']';
      return;
    }
    case YAML::NodeType::Map: {
      out += '{';
      bool first = true;
      for (const auto& member : node) {
        if (!first) out += ',';
        first = false;
        json::AppendQuoted(out, member.first.Scalar());
        out += ':';
        AppendJson(member.second, out);
      }
      out += '}';
      return;
    }
  }
}

std::string SanitizedName(std::string s) {
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

struct LoadedCases {
  std::vector<ConformanceCase> cases;
  std::vector<std::string> problems;  // malformed files or cases
};

// Reads one case; returns false (with a problem recorded) when the case itself is malformed.
bool ReadCase(const YAML::Node& node, ConformanceCase& c, std::vector<std::string>& problems) {
  const std::string where = c.file + "#" + std::to_string(c.index);
  if (!node.IsMap()) {
    problems.push_back(where + ": a case must be a mapping");
    return false;
  }
  for (const auto& member : node) {
    const std::string key = member.first.Scalar();
    if (std::find(std::begin(kCaseMembers), std::end(kCaseMembers), key) ==
        std::end(kCaseMembers)) {
      problems.push_back(where + ": unknown member `" + key + "`");
      return false;
    }
  }
  if (!node["name"] || !node["request"] || !node["expect"] || !node["expect"].IsMap()) {
    problems.push_back(where + ": a case needs name, request and expect");
    return false;
  }
  c.name = node["name"].as<std::string>();

  std::string json = "{\"id\":";
  json::AppendQuoted(json, where);
  for (const char* member : kEvalMembers) {
    if (!node[member]) continue;
    json += ',';
    json::AppendQuoted(json, member);
    json += ':';
    AppendJson(node[member], json);
  }
  json += '}';
  c.eval_json = std::move(json);

  const YAML::Node expect = node["expect"];
  if (expect["error"]) {
    const std::string text = expect["error"].Scalar();
    c.expect_error = (text == "true" && expect["error"].Tag() != "!") ? "" : text;
    return true;
  }
  if (!expect["decision"]) {
    problems.push_back(where + ": expect needs a decision or an error");
    return false;
  }
  c.expect_decision = expect["decision"].as<std::string>();
  if (c.expect_decision != "Allowed" && c.expect_decision != "ExplicitlyDenied" &&
      c.expect_decision != "ImplicitlyDenied") {
    problems.push_back(where + ": unknown decision `" + c.expect_decision + "`");
    return false;
  }
  if (expect["reasons"]) {
    std::set<ReasonKey> reasons;
    for (const YAML::Node& r : expect["reasons"]) {
      if (!r["policy"] || !r["statement"]) {
        problems.push_back(where + ": a reason needs policy and statement");
        return false;
      }
      reasons.emplace(r["policy"].as<std::string>(), r["statement"].as<int>());
    }
    c.expect_reasons = std::move(reasons);
  }
  if (expect["deniedBy"]) c.expect_denied_by = expect["deniedBy"].as<std::string>();
  return true;
}

LoadedCases LoadCases() {
  LoadedCases loaded;
  std::error_code ec;
  if (!std::filesystem::is_directory(kCasesDir, ec)) {
    loaded.problems.push_back(std::string("no case directory ") + kCasesDir);
    return loaded;
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(kCasesDir, ec)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    const std::string file = path.filename().string();
    YAML::Node root;
    try {
      root = YAML::LoadFile(path.string());
    } catch (const YAML::Exception& e) {
      loaded.problems.push_back(file + ": " + e.what());
      continue;
    }
    if (!root["cases"] || !root["cases"].IsSequence()) {
      loaded.problems.push_back(file + ": no `cases` list");
      continue;
    }
    int index = 0;
    for (const YAML::Node& node : root["cases"]) {
      ConformanceCase c;
      c.file = file;
      c.index = index;
      c.test_name = SanitizedName(path.stem().string()) + "_" + std::to_string(index);
      ++index;
      try {
        if (ReadCase(node, c, loaded.problems)) loaded.cases.push_back(std::move(c));
      } catch (const YAML::Exception& e) {
        loaded.problems.push_back(c.file + "#" + std::to_string(c.index) + ": " + e.what());
      }
    }
  }
  return loaded;
}

const LoadedCases& AllCases() {
  static const LoadedCases* const kLoaded = new LoadedCases(LoadCases());
  return *kLoaded;
}

std::string DescribeReasons(const std::vector<Reason>& reasons) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < reasons.size(); ++i) {
    if (i > 0) out << ", ";
    out << reasons[i].policy << '#' << reasons[i].statement;
  }
  out << ']';
  return out.str();
}

std::string DescribeReasons(const std::set<ReasonKey>& reasons) {
  std::ostringstream out;
  out << '[';
  bool first = true;
  for (const auto& [policy, statement] : reasons) {
    if (!first) out << ", ";
    first = false;
    out << policy << '#' << statement;
  }
  out << ']';
  return out.str();
}

void CheckResult(const ConformanceCase& c, const EvaluationResult& result,
                 std::string_view evaluator) {
  SCOPED_TRACE(std::string(evaluator));
  EXPECT_EQ(DecisionName(result.decision), c.expect_decision)
      << "reasons " << DescribeReasons(result.reasons) << ", denied by "
      << LayerName(result.denied_by);
  if (c.expect_reasons.has_value()) {
    std::set<ReasonKey> got;
    for (const Reason& r : result.reasons) got.emplace(r.policy, r.statement);
    EXPECT_EQ(got.size(), result.reasons.size())
        << "duplicate reasons " << DescribeReasons(result.reasons);
    EXPECT_EQ(got, *c.expect_reasons)
        << "got " << DescribeReasons(got) << ", want " << DescribeReasons(*c.expect_reasons);
  }
  if (c.expect_denied_by.has_value()) {
    EXPECT_EQ(LayerName(result.denied_by), *c.expect_denied_by);
  }
}

class ConformanceTest : public ::testing::TestWithParam<ConformanceCase> {};

TEST_P(ConformanceTest, Decides) {
  const ConformanceCase& c = GetParam();
  SCOPED_TRACE(c.file + "#" + std::to_string(c.index) + ": " + c.name);
  SCOPED_TRACE("case: " + c.eval_json);

  auto root = json::Parse(c.eval_json);
  ASSERT_TRUE(root.ok()) << root.error().ToString();
  auto parsed = ParseEvalCase(**root);
  if (c.expect_error.has_value()) {
    ASSERT_FALSE(parsed.ok()) << "expected an error containing `" << *c.expect_error << "`";
    EXPECT_NE(parsed.error().ToString().find(*c.expect_error), std::string::npos)
        << parsed.error().ToString();
    return;
  }
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  const EvalCase& eval_case = *parsed;

  CheckResult(c, EvaluateReference(eval_case.policies, eval_case.request), "reference");

  auto compiled = Compile(eval_case.policies);
  ASSERT_TRUE(compiled.ok()) << compiled.error().ToString();
  CheckResult(c, Evaluate(**compiled, eval_case.request), "compiled");
  EvaluateOptions scan;
  scan.use_index = false;
  CheckResult(c, Evaluate(**compiled, eval_case.request, scan), "compiled without index");
}

std::string CaseTestName(const ::testing::TestParamInfo<ConformanceCase>& param) {
  return param.param.test_name;
}

INSTANTIATE_TEST_SUITE_P(Cases, ConformanceTest, ::testing::ValuesIn(AllCases().cases),
                         CaseTestName);

TEST(ConformanceFilesTest, AreWellFormed) {
  const LoadedCases& loaded = AllCases();
  for (const std::string& problem : loaded.problems) ADD_FAILURE() << problem;
  EXPECT_GT(loaded.cases.size(), 0u);
}

TEST(ConformanceFilesTest, YamlScalarsBecomeJsonByStyle) {
  const YAML::Node node = YAML::Load(
      "{a: true, b: 'true', c: 10, d: \"10\", e: 1.5, f: 007, g: null, h: abc, i: [1, x]}");
  std::string out;
  AppendJson(node, out);
  EXPECT_EQ(out, R"({"a":true,"b":"true","c":10,"d":"10","e":1.5,"f":"007","g":null,"h":"abc",)"
                 R"("i":[1,"x"]})");
}

}  // namespace
}  // namespace xrole::policy
