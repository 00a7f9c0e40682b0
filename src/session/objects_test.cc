#include "session/objects.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace xrole::session {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kOrg = R"(apiVersion: xrole/v1
kind: Human
metadata:
  name: alice
spec:
  email: alice@example.com
  canApprove: false
  tags: {team: platform}
---
apiVersion: xrole/v1
kind: Human
metadata: {name: bob}
spec: {email: bob@example.com}
---
apiVersion: xrole/v1
kind: Agent
metadata:
  name: deploy-bot
  owner: platform@example.com
spec:
  sponsor: alice
  account: "222233334444"
  description: ships code
  tags: {runtime: ci}
---
apiVersion: xrole/v1
kind: Agent
metadata: {name: other-bot}
spec: {sponsor: bob, disabled: true}
)";

constexpr std::string_view kRole = R"(apiVersion: xrole/v1
kind: ExecutionRole
metadata:
  name: deployer
  owner: platform@example.com
spec:
  account: "444455556666"
  description: deploys
  objective: ship safely
  environment: production
  reviewBy: 2028-02-29
  maxSessionDuration: 1h30m
  trust:
    agents: [deploy-bot]
    workflows: [deploy]
    humans: [bob]
    conditions:
      Null:
        xrole:RunTag/change-ticket: false
  approval: {required: true, ttl: 20m}
  permissions:
    - Version: 2012-10-17
      Statement:
        - Effect: Allow
          Action: lambda:UpdateFunctionCode
          Resource: arn:aws:lambda:eu-west-1:444455556666:function:app-*
    - name: read-artifacts
      policy:
        Version: 2012-10-17
        Statement:
          - Effect: Allow
            Action: s3:GetObject
            Resource: arn:aws:s3:::artifacts/*
  boundary:
    Version: 2012-10-17
    Statement:
      - {Effect: Allow, Action: ["lambda:*", "s3:GetObject"], Resource: "*"}
  tags: {team: platform, tier: 1}
---
apiVersion: xrole/v1
kind: Workflow
metadata: {name: deploy}
spec:
  description: release pipeline
  owner: platform@example.com
  roles: [deployer]
  maxRunDuration: 2h
  needs:
    - actions: [lambda:UpdateFunctionCode]
      resources: ["arn:aws:lambda:eu-west-1:444455556666:function:app-*"]
    - actions: s3:GetObject
---
apiVersion: xrole/v1
kind: Guardrail
metadata: {name: keep-logs}
spec:
  description: never delete logs
  policy:
    Version: "2012-10-17"
    Statement:
      - {Sid: NoLogDeletion, Effect: Deny, Action: "logs:Delete*", Resource: "*"}
      - {Effect: Allow, Action: "*", Resource: "*"}
)";

std::vector<ObjectDocument> MustParse(std::string_view text, std::string_view source) {
  Result<std::vector<ObjectDocument>> docs = ParseObjectDocuments(text, source);
  EXPECT_TRUE(docs.ok()) << docs.error().message() << " at " << docs.error().path();
  return docs.ok() ? std::move(docs).value() : std::vector<ObjectDocument>{};
}

std::vector<ObjectDocument> Concat(std::vector<ObjectDocument> a,
                                   const std::vector<ObjectDocument>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::shared_ptr<const Catalog> MustBuild(const std::vector<ObjectDocument>& docs) {
  Result<std::shared_ptr<const Catalog>> catalog = BuildCatalog(Catalog{}, docs);
  EXPECT_TRUE(catalog.ok()) << catalog.error().message() << " at " << catalog.error().path();
  return catalog.ok() ? *catalog : std::make_shared<const Catalog>();
}

Error ParseError(std::string_view text, std::string_view source = "roles.yaml") {
  Result<std::vector<ObjectDocument>> docs = ParseObjectDocuments(text, source);
  EXPECT_FALSE(docs.ok()) << "parsed without error: " << text;
  return docs.ok() ? Error(ErrorCode::kInternal, "no error") : docs.error();
}

// The trust policy as the resource policy of sts:AssumeRole, with the caller's own identity
// policy allowing the call (needed when the agent and the role live in different accounts).
std::shared_ptr<const policy::CompiledPolicySet> CompileTrust(const ExecutionRole& role) {
  policy::PolicySet set;
  set.resource = role.trust.policy;
  Result<policy::Policy> caller = policy::ParsePolicy(
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",)"
      R"("Resource":"*"}]})",
      policy::PolicyKind::kIdentity);
  EXPECT_TRUE(caller.ok());
  if (caller.ok()) set.identity.push_back(*caller);
  Result<std::shared_ptr<const policy::CompiledPolicySet>> compiled = policy::Compile(set);
  EXPECT_TRUE(compiled.ok()) << compiled.error().message();
  return compiled.ok() ? *compiled : nullptr;
}

// A minimal valid role document with `spec_extra` appended to its spec (indented by 2).
std::string RoleWith(std::string_view spec_extra) {
  return std::string(R"(apiVersion: xrole/v1
kind: ExecutionRole
metadata:
  name: deployer
spec:
  trust:
    agents: ["*"]
)") + std::string(spec_extra);
}

TEST(ParseDurationTest, AcceptsSecondsAndUnits) {
  EXPECT_EQ(*ParseDuration("900"), 900);
  EXPECT_EQ(*ParseDuration("900s"), 900);
  EXPECT_EQ(*ParseDuration("15m"), 900);
  EXPECT_EQ(*ParseDuration("1h"), 3600);
  EXPECT_EQ(*ParseDuration("1h30m"), 5400);
  EXPECT_EQ(*ParseDuration("1h0m30s"), 3630);
  EXPECT_EQ(*ParseDuration("12h"), 43200);
  EXPECT_EQ(*ParseDuration("0"), 0);
}

TEST(ParseDurationTest, RejectsMalformedText) {
  for (std::string_view bad : {"", "-5m", "1x", "h", "1h1h", "30m1h", "1h30", " 5m", "5 m",
                               "99999999999999999999", "9223372036854775807h", "1.5h"}) {
    Result<std::int64_t> r = ParseDuration(bad);
    EXPECT_FALSE(r.ok()) << "accepted `" << bad << "`";
    if (!r.ok()) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
      EXPECT_THAT(r.error().message(), HasSubstr("invalid duration"));
    }
  }
}

TEST(ObjectsTest, EveryKindParsesIntoTypedObjects) {
  std::vector<ObjectDocument> docs =
      Concat(MustParse(kOrg, "org.yaml"), MustParse(kRole, "roles.yaml"));
  ASSERT_EQ(docs.size(), 7u);
  EXPECT_EQ(docs[0].kind, ObjectKind::kHuman);
  EXPECT_EQ(docs[0].name, "alice");
  EXPECT_EQ(docs[0].source, "org.yaml:1");
  EXPECT_EQ(docs[2].source, "org.yaml:15");
  EXPECT_EQ(docs[4].source, "roles.yaml:1");
  EXPECT_EQ(docs[4].hash.size(), 64u);
  std::shared_ptr<const Catalog> catalog = MustBuild(docs);
  ASSERT_EQ(catalog->documents.size(), 7u);

  const Human& alice = catalog->humans.at("alice");
  EXPECT_EQ(alice.email, "alice@example.com");
  EXPECT_FALSE(alice.can_approve);
  EXPECT_EQ(alice.tags.at("team"), "platform");
  EXPECT_TRUE(catalog->humans.at("bob").can_approve);

  const Agent& bot = catalog->agents.at("deploy-bot");
  EXPECT_EQ(bot.sponsor, "alice");
  EXPECT_EQ(bot.owner, "platform@example.com");
  EXPECT_EQ(bot.account, "222233334444");
  EXPECT_EQ(bot.Arn(), "arn:aws:iam::222233334444:user/xrole/agent/deploy-bot");
  EXPECT_FALSE(bot.disabled);
  EXPECT_TRUE(catalog->agents.at("other-bot").disabled);
  EXPECT_EQ(catalog->agents.at("other-bot").account, "111122223333");

  const ExecutionRole& role = catalog->roles.at("deployer");
  EXPECT_EQ(role.Arn(), "arn:aws:iam::444455556666:role/deployer");
  EXPECT_EQ(role.owner, "platform@example.com");
  EXPECT_EQ(role.description, "deploys");
  EXPECT_EQ(role.objective, "ship safely");
  EXPECT_EQ(role.environment, "production");
  EXPECT_EQ(role.review_by, "2028-02-29");
  EXPECT_EQ(role.max_session_seconds, 5400);
  EXPECT_TRUE(role.approval_required);
  EXPECT_EQ(role.approval_ttl_seconds, 1200);
  ASSERT_EQ(role.permissions.size(), 2u);
  EXPECT_EQ(role.permissions[0].name, "permissions[0]");
  EXPECT_EQ(role.permissions[1].name, "read-artifacts");
  EXPECT_EQ(role.permissions[1].policy.name(), "read-artifacts");
  EXPECT_THAT(role.permissions[0].json, HasSubstr(R"("Version":"2012-10-17")"));
  ASSERT_TRUE(role.boundary.has_value());
  EXPECT_EQ(role.boundary->name, "boundary");
  EXPECT_EQ(role.trust.name, "trust");
  // The shorthand names the agent by its ARN in its own account.
  EXPECT_THAT(role.trust.json,
              HasSubstr(R"("arn:aws:iam::222233334444:user/xrole/agent/deploy-bot")"));
  EXPECT_EQ(role.tags.at("tier"), "1");
  EXPECT_EQ(role.hash, catalog->documents.at("ExecutionRole/deployer").hash);
  EXPECT_EQ(role.hash, docs[4].hash);

  const Workflow& workflow = catalog->workflows.at("deploy");
  EXPECT_THAT(workflow.roles, ElementsAre("deployer"));
  EXPECT_EQ(workflow.max_run_seconds, 7200);
  EXPECT_EQ(workflow.owner, "platform@example.com");
  ASSERT_EQ(workflow.needs.size(), 2u);
  EXPECT_THAT(workflow.needs[1].actions, ElementsAre("s3:GetObject"));
  EXPECT_THAT(workflow.needs[1].resources, ElementsAre("*"));

  const Guardrail& guardrail = catalog->guardrails.at("keep-logs");
  EXPECT_EQ(guardrail.scope, GuardrailScope::kPrincipal);
  EXPECT_EQ(guardrail.policy.name, "keep-logs");
  EXPECT_EQ(guardrail.description, "never delete logs");
}

TEST(ObjectsTest, DefaultsApplyWhenFieldsAreAbsent) {
  std::shared_ptr<const Catalog> catalog = MustBuild(MustParse(RoleWith(""), "r.yaml"));
  const ExecutionRole& role = catalog->roles.at("deployer");
  EXPECT_EQ(role.account, "111122223333");
  EXPECT_EQ(role.max_session_seconds, 900);
  EXPECT_FALSE(role.approval_required);
  EXPECT_EQ(role.approval_ttl_seconds, 3600);
  EXPECT_TRUE(role.permissions.empty());
  EXPECT_FALSE(role.boundary.has_value());
  EXPECT_EQ(role.review_by, "");
}

TEST(ObjectsTest, JsonAndYamlFormsHaveTheSameCanonicalDocument) {
  constexpr std::string_view kYaml = R"(
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: reader, owner: data@example.com}
spec:
  account: 111122223333
  maxSessionDuration: 900
  approval: {required: false, ttl: 1h}
  trust:
    Version: 2012-10-17
    Statement:
      - Effect: Allow
        Principal: {AWS: "arn:aws:iam::111122223333:user/xrole/agent/a"}
        Action: sts:AssumeRole
        Condition:
          Bool: {aws:SecureTransport: true}
          NumericLessThan: {xrole:Depth: 3}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*"}]
  tags: {team: data}
)";
  constexpr std::string_view kJson = R"(  [{
  "kind": "ExecutionRole", "apiVersion": "xrole/v1",
  "metadata": {"owner": "data@example.com", "name": "reader"},
  "spec": {
    "tags": {"team": "data"},
    "permissions": [{"Statement": [{"Resource": "arn:aws:s3:::b/*", "Action": "s3:GetObject",
                                    "Effect": "Allow"}], "Version": "2012-10-17"}],
    "trust": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::111122223333:user/xrole/agent/a"},
      "Action": "sts:AssumeRole",
      "Condition": {"Bool": {"aws:SecureTransport": true},
                    "NumericLessThan": {"xrole:Depth": 3}}}]},
    "approval": {"ttl": "1h", "required": false},
    "maxSessionDuration": "900",
    "account": "111122223333"}}]
)";
  std::vector<ObjectDocument> from_yaml = MustParse(kYaml, "r.yaml");
  std::vector<ObjectDocument> from_json = MustParse(kJson, "r.json");
  ASSERT_EQ(from_yaml.size(), 1u);
  ASSERT_EQ(from_json.size(), 1u);
  EXPECT_EQ(from_yaml[0].canonical_json, from_json[0].canonical_json);
  EXPECT_EQ(from_yaml[0].hash, from_json[0].hash);
  EXPECT_EQ(from_yaml[0].source, "r.yaml:2");
  EXPECT_EQ(from_json[0].source, "r.json:1");
  // Scalars in policies are kept as strings; typed fields get their type.
  EXPECT_THAT(from_yaml[0].canonical_json, HasSubstr(R"("maxSessionDuration":900)"));
  EXPECT_THAT(from_yaml[0].canonical_json, HasSubstr(R"("required":false)"));
  EXPECT_THAT(from_yaml[0].canonical_json, HasSubstr(R"("aws:SecureTransport":"true")"));
  EXPECT_THAT(from_yaml[0].canonical_json, HasSubstr(R"("Version":"2012-10-17")"));
  // Keys are sorted and the text is compact.
  EXPECT_EQ(from_yaml[0].canonical_json.rfind(R"({"apiVersion":"xrole/v1","kind":)", 0), 0u);
}

TEST(ObjectsTest, CanonicalDocumentsRebuildTheSameCatalog) {
  std::vector<ObjectDocument> docs =
      Concat(MustParse(kOrg, "org.yaml"), MustParse(kRole, "r.yaml"));
  std::shared_ptr<const Catalog> first = MustBuild(docs);
  // What the store keeps (canonical text, hash) is enough to rebuild the catalog.
  std::vector<ObjectDocument> stored;
  for (const auto& [key, doc] : first->documents) stored.push_back(doc);
  std::shared_ptr<const Catalog> second = MustBuild(stored);
  EXPECT_EQ(second->roles.at("deployer").trust.json, first->roles.at("deployer").trust.json);
  EXPECT_EQ(second->roles.at("deployer").hash, first->roles.at("deployer").hash);
}

TEST(ObjectsTest, TrustShorthandExpandsToAnEnforcedTrustPolicy) {
  std::vector<ObjectDocument> docs =
      Concat(MustParse(kOrg, "org.yaml"), MustParse(kRole, "r.yaml"));
  std::shared_ptr<const Catalog> catalog = MustBuild(docs);
  const ExecutionRole& role = catalog->roles.at("deployer");
  std::shared_ptr<const policy::CompiledPolicySet> compiled = CompileTrust(role);
  ASSERT_NE(compiled, nullptr);

  auto decide = [&](const std::string& principal, const std::string& workflow,
                    const std::string& human, bool ticket) {
    policy::Request request;
    request.principal = principal;
    request.action = "sts:AssumeRole";
    request.resource = role.Arn();
    if (!workflow.empty()) {
      request.context.Set("xrole:Workflow", policy::ContextValue::Scalar(workflow));
    }
    if (!human.empty()) {
      request.context.Set("xrole:OnBehalfOf", policy::ContextValue::Scalar(human));
    }
    if (ticket) {
      request.context.Set("xrole:RunTag/change-ticket", policy::ContextValue::Scalar("CHG-1"));
    }
    return policy::Evaluate(*compiled, request).decision;
  };
  const std::string bot = catalog->agents.at("deploy-bot").Arn();
  const std::string other = catalog->agents.at("other-bot").Arn();
  EXPECT_EQ(decide(bot, "deploy", "bob", true), policy::Decision::kAllowed);
  EXPECT_EQ(decide(other, "deploy", "bob", true), policy::Decision::kImplicitlyDenied);
  EXPECT_EQ(decide(bot, "other-workflow", "bob", true), policy::Decision::kImplicitlyDenied);
  EXPECT_EQ(decide(bot, "", "bob", true), policy::Decision::kImplicitlyDenied);
  EXPECT_EQ(decide(bot, "deploy", "alice", true), policy::Decision::kImplicitlyDenied);
  EXPECT_EQ(decide(bot, "deploy", "", true), policy::Decision::kImplicitlyDenied);
  EXPECT_EQ(decide(bot, "deploy", "bob", false), policy::Decision::kImplicitlyDenied);
  // A principal with the agent's name in another account is someone else.
  EXPECT_EQ(decide("arn:aws:iam::111122223333:user/xrole/agent/deploy-bot", "deploy", "bob", true),
            policy::Decision::kImplicitlyDenied);
}

TEST(ObjectsTest, WildcardAgentsTrustAnyAgentInTheWorkflow) {
  std::string text = RoleWith("") + "    workflows: [deploy]\n";
  std::shared_ptr<const Catalog> catalog = MustBuild(Concat(
      MustParse(text, "r.yaml"),
      MustParse("apiVersion: xrole/v1\nkind: Workflow\nmetadata: {name: deploy}\n", "w.yaml")));
  const ExecutionRole& role = catalog->roles.at("deployer");
  std::shared_ptr<const policy::CompiledPolicySet> compiled = CompileTrust(role);
  ASSERT_NE(compiled, nullptr);
  policy::Request request;
  request.principal = "arn:aws:iam::111122223333:user/xrole/agent/anyone";
  request.action = "sts:AssumeRole";
  request.resource = role.Arn();
  EXPECT_EQ(policy::Evaluate(*compiled, request).decision, policy::Decision::kImplicitlyDenied);
  request.context.Set("xrole:Workflow", policy::ContextValue::Scalar("deploy"));
  EXPECT_EQ(policy::Evaluate(*compiled, request).decision, policy::Decision::kAllowed);
}

TEST(ObjectsErrorsTest, BadYamlReportsItsLine) {
  Error e = ParseError("apiVersion: xrole/v1\nkind: Human\nmetadata: {name: [a, b\n");
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(e.message(), HasSubstr("roles.yaml:"));
  EXPECT_THAT(e.message(), HasSubstr("invalid YAML"));
  EXPECT_GE(e.location().line, 3);

  Error indent = ParseError("apiVersion: xrole/v1\nkind: Human\n  metadata: x\n");
  EXPECT_THAT(indent.message(), HasSubstr("roles.yaml:3: invalid YAML"));
}

TEST(ObjectsErrorsTest, YamlSyntaxErrorsSayWhatTheyInterrupted) {
  Error e = ParseError("apiVersion: xrole/v1\nkind: Human\nmetadata:\n  name: h\n  - x\n");
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(e.message(), HasSubstr("roles.yaml:5: invalid YAML: "));
  EXPECT_THAT(e.message(), HasSubstr("did not find expected key (while parsing a block mapping "
                                     "at line 4, column 3)"));
  EXPECT_EQ(e.location().line, 5);
  EXPECT_EQ(e.path(), "metadata");

  Error utf8 = ParseError("apiVersion: xrole/v1\nkind: Human\nmetadata: {name: \"\xff\"}\n");
  EXPECT_THAT(utf8.message(), HasSubstr("invalid YAML: invalid leading UTF-8 octet"));
}

TEST(ObjectsErrorsTest, DeepYamlIsRefusedAtTheFirstLevelTooDeep) {
  // Far deeper than the limit, and unterminated: the reader stops at level 65, so neither the
  // depth nor the missing brackets are ever read.
  std::string text = "apiVersion: xrole/v1\nkind: Human\nmetadata: {name: h}\nspec: ";
  text += std::string(1'000'000, '[');
  Error e = ParseError(text);
  EXPECT_EQ(e.code(), ErrorCode::kLimitExceeded);
  EXPECT_THAT(e.message(), HasSubstr("roles.yaml:4: nesting deeper than 64 levels"));
  EXPECT_EQ(e.location().column, 7 + 63);  // the 64th bracket opens the 65th level
  EXPECT_THAT(e.path(), testing::StartsWith("spec[0][0]"));
}

TEST(ObjectsErrorsTest, AnAliasMustFollowItsAnchor) {
  Error e = ParseError(
      "apiVersion: xrole/v1\nkind: Human\nmetadata: {name: *later}\n"
      "spec: &later {}\n");
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(e.message(), HasSubstr("roles.yaml:3: alias `*later` names no anchor before it"));
  EXPECT_EQ(e.path(), "metadata.name");
  // Anchors belong to their document.
  Error across = ParseError(
      "apiVersion: xrole/v1\nkind: Human\nmetadata: {name: &n h}\n---\n"
      "apiVersion: xrole/v1\nkind: Human\nmetadata: {name: *n}\n");
  EXPECT_THAT(across.message(), HasSubstr("roles.yaml:7: alias `*n` names no anchor"));
}

TEST(ObjectsTest, YamlAliasesCopyTheirAnchorsAndScalarsKeepTheirWrittenType) {
  std::vector<ObjectDocument> docs = MustParse(R"(apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: r}
spec:
  maxSessionDuration: !!int 900
  description: &d !!str 900
  objective: *d
  trust:
    agents: [deploy-bot]
    conditions:
      Null:
        xrole:RunTag/change-ticket: false
  permissions:
    - Version: 2012-10-17
      Statement:
        - Effect: Allow
          Action: s3:GetObject
          Resource: &buckets [arn:aws:s3:::a/*, arn:aws:s3:::b/*]
        - Effect: Deny
          Action: s3:DeleteObject
          Resource: *buckets
)",
                                               "r.yaml");
  ASSERT_EQ(docs.size(), 1u);
  const std::string& stored = docs[0].canonical_json;
  EXPECT_THAT(stored, HasSubstr(R"("maxSessionDuration":900)"));
  EXPECT_THAT(stored, HasSubstr(R"("description":"900")"));
  EXPECT_THAT(stored, HasSubstr(R"("objective":"900")"));
  EXPECT_THAT(stored, HasSubstr(R"("Null":{"xrole:RunTag/change-ticket":"false"})"));
  EXPECT_THAT(stored, HasSubstr(R"("Action":"s3:DeleteObject","Effect":"Deny","Resource":)"
                                R"(["arn:aws:s3:::a/*","arn:aws:s3:::b/*"])"));
}

TEST(ObjectsErrorsTest, BadJsonReportsItsLine) {
  Error e =
      ParseError("{\"apiVersion\": \"xrole/v1\",\n \"kind\": \"Human\",\n \"kind\": 1}", "x.json");
  EXPECT_THAT(e.message(), HasSubstr("x.json:3: invalid JSON"));
}

TEST(ObjectsErrorsTest, DuplicateYamlKeysAreRejected) {
  Error e = ParseError(RoleWith("  maxSessionDuration: 1h\n  maxSessionDuration: 15m\n"));
  EXPECT_THAT(e.message(), HasSubstr("roles.yaml:9: duplicate key `maxSessionDuration`"));
  EXPECT_EQ(e.path(), "spec.maxSessionDuration");
}

TEST(ObjectsErrorsTest, HeaderErrors) {
  Error kind = ParseError("apiVersion: xrole/v1\nkind: Role\nmetadata: {name: x}\n");
  EXPECT_THAT(kind.message(), HasSubstr("roles.yaml:2: unknown kind `Role`"));
  EXPECT_EQ(kind.path(), "kind");

  Error version = ParseError("apiVersion: v1\nkind: Human\nmetadata: {name: x}\n");
  EXPECT_THAT(version.message(), HasSubstr("roles.yaml:1: unsupported apiVersion `v1`"));

  Error missing = ParseError("apiVersion: xrole/v1\nkind: Human\nmetadata: {owner: me}\n");
  EXPECT_THAT(missing.message(), HasSubstr("missing `metadata.name`"));
  EXPECT_EQ(missing.path(), "metadata.name");

  Error no_metadata = ParseError("apiVersion: xrole/v1\nkind: Human\n");
  EXPECT_THAT(no_metadata.message(), HasSubstr("missing `metadata.name`"));

  for (std::string_view bad : {"Alice", "-x", "a_b", "a.b", ""}) {
    Error name = ParseError("apiVersion: xrole/v1\nkind: Human\nmetadata: {name: \"" +
                            std::string(bad) + "\"}\n");
    EXPECT_THAT(name.message(), HasSubstr("roles.yaml:3: invalid name")) << bad;
  }
  Error long_name = ParseError(
      "apiVersion: xrole/v1\nkind: Human\nmetadata: {name: " + std::string(64, 'a') + "}\n");
  EXPECT_THAT(long_name.message(), HasSubstr("invalid name"));
  EXPECT_TRUE(ParseObjectDocuments("apiVersion: xrole/v1\nkind: Human\nmetadata: {name: " +
                                       std::string(63, 'a') + "}\n",
                                   "ok.yaml")
                  .ok());

  Error not_mapping = ParseError("- 1\n- 2\n");
  EXPECT_THAT(not_mapping.message(), HasSubstr("expected a document"));
}

TEST(ObjectsErrorsTest, UnknownFieldsAreErrorsWithTheirPath) {
  Error e = ParseError(RoleWith("  maxSesionDuration: 1h\n"));
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.path(), "spec.maxSesionDuration");
  EXPECT_THAT(e.message(), HasSubstr("roles.yaml:8: ExecutionRole/deployer: unknown field "
                                     "`maxSesionDuration`"));
  EXPECT_THAT(e.message(), HasSubstr("did you mean `maxSessionDuration`?"));
  EXPECT_EQ(e.location().line, 8);

  Error shorthand = ParseError(RoleWith("    condition: {}\n"));
  EXPECT_EQ(shorthand.path(), "spec.trust.condition");
  EXPECT_THAT(shorthand.message(), HasSubstr("did you mean `conditions`?"));

  Error approval = ParseError(RoleWith("  approval: {requird: true}\n"));
  EXPECT_EQ(approval.path(), "spec.approval.requird");

  Error top = ParseError(RoleWith("status: {}\n"));
  EXPECT_EQ(top.path(), "status");

  Error metadata =
      ParseError("apiVersion: xrole/v1\nkind: Human\nmetadata: {name: x, namespace: y}\n");
  EXPECT_EQ(metadata.path(), "metadata.namespace");

  Error human = ParseError(
      "apiVersion: xrole/v1\nkind: Human\nmetadata: {name: x}\n"
      "spec: {sponsor: y}\n");
  EXPECT_THAT(human.message(), HasSubstr("Human/x: unknown field `sponsor` in Human spec"));
}

TEST(ObjectsErrorsTest, InvalidPolicyInsideARoleNamesFileLineAndPath) {
  Error e = ParseError(RoleWith(R"(  permissions:
    - Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: s3:GetObject
          Resource: arn:aws:s3:::b/*
        - Effect: allow
          Action: s3:PutObject
          Resource: "*"
)"));
  EXPECT_EQ(e.code(), ErrorCode::kMalformedPolicy);
  EXPECT_EQ(e.path(), "spec.permissions[0].Statement[1].Effect");
  EXPECT_THAT(e.message(), HasSubstr("roles.yaml:14: ExecutionRole/deployer: "));
  EXPECT_THAT(e.message(), HasSubstr("unknown effect `allow`"));

  Error named = ParseError(RoleWith(R"(  permissions:
    - name: p
      policy:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "*", Condition: {StringEqual: {a: b}}}]
)"));
  EXPECT_EQ(named.path(), "spec.permissions[0].policy.Statement[0].Condition.StringEqual");
  EXPECT_THAT(named.message(), HasSubstr("roles.yaml:12:"));

  Error trust = ParseError(R"(apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: r}
spec:
  trust:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: sts:AssumeRole
)");
  EXPECT_EQ(trust.code(), ErrorCode::kMalformedPolicy);
  EXPECT_THAT(trust.path(), HasSubstr("spec.trust.Statement[0]"));
  EXPECT_THAT(trust.message(), HasSubstr("roles.yaml:8: ExecutionRole/r:"));

  Error conditions = ParseError(RoleWith("    conditions: {StringLikee: {a: b}}\n"));
  EXPECT_EQ(conditions.path(), "spec.trust.conditions.StringLikee");

  Error guardrail = ParseError(R"(apiVersion: xrole/v1
kind: Guardrail
metadata: {name: g}
spec:
  scope: principal
  policy:
    Version: "2012-10-17"
    Statement: [{Effect: Deny, Principal: "*", Action: "*", Resource: "*"}]
)");
  EXPECT_EQ(guardrail.code(), ErrorCode::kMalformedPolicy);
  EXPECT_THAT(guardrail.path(), HasSubstr("spec.policy.Statement[0]"));
}

TEST(ObjectsErrorsTest, TrustShorthandMustNameSomebody) {
  Error e = ParseError(R"(apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: r}
spec:
  trust: {}
)");
  EXPECT_THAT(e.message(), HasSubstr("names nobody"));
  Error missing = ParseError("apiVersion: xrole/v1\nkind: ExecutionRole\nmetadata: {name: r}\n");
  EXPECT_THAT(missing.message(), HasSubstr("missing `spec.trust`"));
  Error mixed = ParseError(R"(apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: r}
spec:
  trust: {agents: ["*", a]}
)");
  EXPECT_EQ(mixed.path(), "spec.trust.agents[0]");
  for (std::string_view empty : {"    workflows: []\n", "    humans: []\n"}) {
    Error e2 = ParseError(RoleWith(empty));
    EXPECT_THAT(e2.message(), HasSubstr("must not be empty")) << empty;
  }
  Error no_agents = ParseError(R"(apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: r}
spec:
  trust: {agents: [], workflows: [w]}
)");
  EXPECT_EQ(no_agents.path(), "spec.trust.agents");
  Error clash = ParseError(
      RoleWith("    workflows: [w]\n    conditions: {StringEquals: {xrole:workflow: x}}\n"));
  EXPECT_THAT(clash.message(), HasSubstr("set by `workflows`"));
}

TEST(ObjectsErrorsTest, FieldValuesAreChecked) {
  Error too_long = ParseError(RoleWith("  maxSessionDuration: 13h\n"));
  EXPECT_EQ(too_long.path(), "spec.maxSessionDuration");
  EXPECT_THAT(too_long.message(), HasSubstr("out of range"));
  EXPECT_THAT(ParseError(RoleWith("  maxSessionDuration: 5m\n")).message(),
              HasSubstr("out of range"));
  EXPECT_THAT(ParseError(RoleWith("  maxSessionDuration: soon\n")).message(),
              HasSubstr("invalid duration `soon`"));
  EXPECT_THAT(ParseError(RoleWith("  account: \"12345\"\n")).message(),
              HasSubstr("invalid account `12345`"));
  EXPECT_THAT(ParseError(RoleWith("  reviewBy: 2027-02-29\n")).message(),
              HasSubstr("invalid date `2027-02-29`"));
  EXPECT_THAT(ParseError(RoleWith("  approval: {required: \"yes\"}\n")).message(),
              HasSubstr("expected a boolean"));
  EXPECT_THAT(ParseError(RoleWith("  approval: {required: maybe}\n")).message(),
              HasSubstr("expected `true` or `false`"));
  EXPECT_THAT(ParseError(RoleWith("  tags: [a]\n")).message(), HasSubstr("expected a mapping"));
  EXPECT_THAT(ParseError(RoleWith("  permissions: {}\n")).message(),
              HasSubstr("expected a list of policy documents"));
  EXPECT_THAT(ParseError(RoleWith("  owner: a@x\nmetadata2: 1\n")).path(), "metadata2");
  Error owner = ParseError(R"(apiVersion: xrole/v1
kind: Workflow
metadata: {name: w, owner: a@example.com}
spec: {owner: b@example.com}
)");
  EXPECT_THAT(owner.message(), HasSubstr("differs from metadata.owner"));
  EXPECT_THAT(ParseError("apiVersion: xrole/v1\nkind: Workflow\nmetadata: {name: w}\n"
                         "spec: {maxRunDuration: 13h}\n")
                  .path(),
              "spec.maxRunDuration");
  EXPECT_THAT(ParseError("apiVersion: xrole/v1\nkind: Human\nmetadata: {name: h}\n"
                         "spec: {email: nobody}\n")
                  .message(),
              HasSubstr("invalid email address"));
  EXPECT_THAT(ParseError("apiVersion: xrole/v1\nkind: Guardrail\nmetadata: {name: g}\n"
                         "spec: {scope: global, policy: {}}\n")
                  .message(),
              HasSubstr("unknown scope `global`"));
  EXPECT_THAT(ParseError("apiVersion: xrole/v1\nkind: Workflow\nmetadata: {name: w}\n"
                         "spec: {needs: [{actions: [GetObject]}]}\n")
                  .path(),
              "spec.needs[0].actions[0]");
}

TEST(ObjectsErrorsTest, JsonValuesMustHaveTheirFieldsType) {
  Error e = ParseError(R"({"apiVersion": "xrole/v1", "kind": "Human", "metadata": {"name": "h"},
  "spec": {"canApprove": "true"}})",
                       "h.json");
  EXPECT_EQ(e.path(), "spec.canApprove");
  EXPECT_THAT(e.message(), HasSubstr("h.json:2: Human/h: expected a boolean, found a string"));
  Error number =
      ParseError(R"([{"apiVersion": "xrole/v1", "kind": "Agent", "metadata": {"name": "a"},
  "spec": {"description": ["x"]}}])",
                 "a.json");
  EXPECT_EQ(number.path(), "spec.description");
}

TEST(ObjectsErrorsTest, AliasExpansionIsBounded) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 8; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) text += (j > 0 ? ", *a" : "*a") + std::to_string(i - 1);
    text += "]\n";
  }
  Error e = ParseError(text, "bomb.yaml");
  EXPECT_EQ(e.code(), ErrorCode::kLimitExceeded);
  EXPECT_THAT(e.message(), HasSubstr("bomb.yaml:"));
}

TEST(ObjectsErrorsTest, AnAliasCountsEveryNodeOfItsAnchorTheCollectionIncluded) {
  // 14 nodes besides the copies (the mapping, two keys, two lists, nine items), then `copies`
  // aliases of a ten-node list, against a budget of 100,000 nodes plus one per input byte.
  auto text = [](int copies) {
    std::string out = "a: &a [x, x, x, x, x, x, x, x, x]\nb: [*a";
    for (int i = 1; i < copies; ++i) out += ", *a";
    return out + "]\n";
  };
  EXPECT_EQ(ParseError(text(18000)).code(), ErrorCode::kLimitExceeded);  // 180,014 > 172,037
  // 150,014 nodes within 160,037: read, then refused for what it is not.
  Error within = ParseError(text(15000));
  EXPECT_NE(within.code(), ErrorCode::kLimitExceeded) << within.message();
}

TEST(ObjectsTest, ResourceGuardrailIsAnRcp) {
  std::shared_ptr<const Catalog> catalog = MustBuild(MustParse(R"(apiVersion: xrole/v1
kind: Guardrail
metadata: {name: only-org}
spec:
  scope: resource
  policy:
    Version: "2012-10-17"
    Statement:
      - Effect: Deny
        Principal: "*"
        Action: "s3:*"
        Resource: "*"
        Condition: {StringNotEqualsIfExists: {aws:PrincipalOrgID: o-a1b2c3d4e5}}
)",
                                                               "g.yaml"));
  EXPECT_EQ(catalog->guardrails.at("only-org").scope, GuardrailScope::kResource);
}

TEST(ObjectsTest, ManagedPolicyHasAnArnAndAnIdentityDocument) {
  std::shared_ptr<const Catalog> catalog = MustBuild(MustParse(R"(apiVersion: xrole/v1
kind: ManagedPolicy
metadata: {name: read-evidence}
spec:
  description: read the evidence bucket
  path: /incident/
  document:
    Version: 2012-10-17
    Statement:
      - Effect: Allow
        Action: s3:GetObject
        Resource: arn:aws:s3:::evidence/*
---
apiVersion: xrole/v1
kind: ManagedPolicy
metadata: {name: other}
spec:
  account: "444455556666"
  document: {Version: "2012-10-17", Statement: [{Effect: Deny, Action: "*", Resource: "*"}]}
)",
                                                               "m.yaml"));
  const ManagedPolicy& managed = catalog->managed_policies.at("read-evidence");
  EXPECT_EQ(managed.Arn(), "arn:aws:iam::111122223333:policy/incident/read-evidence");
  EXPECT_EQ(managed.description, "read the evidence bucket");
  EXPECT_EQ(managed.document.json,
            R"({"Statement":[{"Action":"s3:GetObject","Effect":"Allow",)"
            R"("Resource":"arn:aws:s3:::evidence/*"}],"Version":"2012-10-17"})");
  EXPECT_NE(managed.document.policy.shared_document(), nullptr);
  EXPECT_FALSE(managed.hash.empty());
  EXPECT_EQ(catalog->managed_policies.at("other").Arn(), "arn:aws:iam::444455556666:policy/other");
  EXPECT_EQ(catalog->documents.count("ManagedPolicy/read-evidence"), 1u);
}

TEST(ObjectsErrorsTest, ManagedPolicyErrorsNameFileLineAndPath) {
  Error document = ParseError(R"(apiVersion: xrole/v1
kind: ManagedPolicy
metadata: {name: m}
spec:
  document:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: s3:GetObject
        Resource: "*"
        Principal: "*"
)");
  EXPECT_EQ(document.code(), ErrorCode::kMalformedPolicy);
  EXPECT_THAT(document.path(), HasSubstr("spec.document.Statement[0]"));
  EXPECT_THAT(document.message(), HasSubstr("roles.yaml:"));
  EXPECT_THAT(document.message(), HasSubstr("ManagedPolicy/m:"));

  Error effect = ParseError(R"(apiVersion: xrole/v1
kind: ManagedPolicy
metadata: {name: m}
spec:
  document:
    Version: "2012-10-17"
    Statement:
      - Effect: Permit
        Action: s3:GetObject
        Resource: "*"
)");
  EXPECT_EQ(effect.path(), "spec.document.Statement[0].Effect");
  EXPECT_THAT(effect.message(), HasSubstr("roles.yaml:8: ManagedPolicy/m: "));

  Error unknown = ParseError(
      "apiVersion: xrole/v1\nkind: ManagedPolicy\nmetadata: {name: m}\nspec:\n"
      "  documnet: {}\n");
  EXPECT_EQ(unknown.path(), "spec.documnet");
  EXPECT_THAT(unknown.message(), HasSubstr("roles.yaml:5: ManagedPolicy/m: unknown field "
                                           "`documnet` in ManagedPolicy spec; did you mean "
                                           "`document`?"));

  Error missing =
      ParseError("apiVersion: xrole/v1\nkind: ManagedPolicy\nmetadata: {name: m}\nspec: {}\n");
  EXPECT_THAT(missing.message(), HasSubstr("missing `spec.document`"));

  Error path = ParseError(
      "apiVersion: xrole/v1\nkind: ManagedPolicy\nmetadata: {name: m}\nspec:\n"
      "  path: team\n  document: {Statement: [{Effect: Allow, Action: '*', Resource: '*'}]}\n");
  EXPECT_EQ(path.path(), "spec.path");
  EXPECT_THAT(path.message(), HasSubstr("invalid path `team`"));
}

TEST(ObjectsTest, EmptyInputHasNoDocuments) {
  Result<std::vector<ObjectDocument>> docs = ParseObjectDocuments("# nothing\n---\n", "e.yaml");
  ASSERT_TRUE(docs.ok());
  EXPECT_TRUE(docs->empty());
  EXPECT_TRUE(ParseObjectDocuments("  \n", "e.json")->empty());
}

TEST(BuildCatalogTest, CrossReferencesMustResolve) {
  std::vector<ObjectDocument> workflow = MustParse(
      "apiVersion: xrole/v1\nkind: Workflow\nmetadata: {name: w}\nspec:\n  roles: [ghost]\n",
      "w.yaml");
  Result<std::shared_ptr<const Catalog>> r = BuildCatalog(Catalog{}, workflow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().path(), "spec.roles[0]");
  EXPECT_THAT(r.error().message(),
              HasSubstr("w.yaml:1: Workflow/w: unknown ExecutionRole `ghost`"));

  std::vector<ObjectDocument> agent =
      MustParse("apiVersion: xrole/v1\nkind: Agent\nmetadata: {name: a}\nspec: {sponsor: nobody}\n",
                "a.yaml");
  r = BuildCatalog(Catalog{}, agent);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().path(), "spec.sponsor");
  EXPECT_THAT(r.error().message(), HasSubstr("unknown Human `nobody`"));

  for (std::string_view shorthand :
       {"    agents: [ghost]\n", "    workflows: [ghost]\n", "    humans: [ghost]\n"}) {
    std::string text = R"(apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: r}
spec:
  trust:
)" + std::string(shorthand);
    r = BuildCatalog(Catalog{}, MustParse(text, "r.yaml"));
    ASSERT_FALSE(r.ok()) << shorthand;
    EXPECT_THAT(r.error().message(), HasSubstr("`ghost`"));
    EXPECT_THAT(r.error().path(), HasSubstr("spec.trust."));
  }
}

TEST(BuildCatalogTest, DuplicateDocumentsNameBothSources) {
  std::vector<ObjectDocument> a = MustParse(kOrg, "a.yaml");
  std::vector<ObjectDocument> b =
      MustParse("apiVersion: xrole/v1\nkind: Human\nmetadata: {name: bob}\n", "b.yaml");
  Result<std::shared_ptr<const Catalog>> r = BuildCatalog(Catalog{}, Concat(a, b));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("`Human/bob`"));
  EXPECT_THAT(r.error().message(), HasSubstr("a.yaml:10"));
  EXPECT_THAT(r.error().message(), HasSubstr("b.yaml:1"));
}

TEST(BuildCatalogTest, UpsertsAndDeletesAtomically) {
  std::shared_ptr<const Catalog> base =
      MustBuild(Concat(MustParse(kOrg, "org.yaml"), MustParse(kRole, "r.yaml")));
  const Catalog before = *base;

  // An update to a Human and a broken workflow: nothing changes.
  std::vector<ObjectDocument> changes =
      Concat(MustParse("apiVersion: xrole/v1\nkind: Human\nmetadata: {name: bob}\n"
                       "spec: {email: robert@example.com}\n",
                       "u.yaml"),
             MustParse("apiVersion: xrole/v1\nkind: Workflow\nmetadata: {name: w2}\n"
                       "spec: {roles: [nope]}\n",
                       "u.yaml"));
  EXPECT_FALSE(BuildCatalog(*base, changes).ok());
  EXPECT_EQ(base->humans.at("bob").email, "bob@example.com");
  EXPECT_EQ(base->documents.size(), before.documents.size());

  // Deleting a role a workflow still uses fails, and so does deleting what does not exist.
  Result<std::shared_ptr<const Catalog>> r = BuildCatalog(*base, {}, {"ExecutionRole/deployer"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("unknown ExecutionRole `deployer`"));
  r = BuildCatalog(*base, {}, {"Human/zed"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  r = BuildCatalog(
      *base, MustParse("apiVersion: xrole/v1\nkind: Human\nmetadata: {name: bob}\n", "b.yaml"),
      {"Human/bob"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("both changed (at b.yaml:1) and deleted"));
  r = BuildCatalog(*base, {}, {"Thing/zed"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(base->roles.count("deployer"), 1u);

  // A valid update and deletion together.
  changes.pop_back();
  r = BuildCatalog(*base, changes, {"Guardrail/keep-logs"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ((*r)->humans.at("bob").email, "robert@example.com");
  EXPECT_EQ((*r)->guardrails.count("keep-logs"), 0u);
  EXPECT_EQ((*r)->documents.count("Guardrail/keep-logs"), 0u);
  EXPECT_EQ((*r)->documents.size(), before.documents.size() - 1);
  EXPECT_EQ(base->humans.at("bob").email, "bob@example.com");
  EXPECT_EQ(base->guardrails.count("keep-logs"), 1u);
}

TEST(BuildCatalogTest, AgentAccountChangesReachTrustPolicies) {
  std::shared_ptr<const Catalog> base =
      MustBuild(Concat(MustParse(kOrg, "org.yaml"), MustParse(kRole, "r.yaml")));
  Result<std::shared_ptr<const Catalog>> r = BuildCatalog(
      *base, MustParse("apiVersion: xrole/v1\nkind: Agent\nmetadata: {name: deploy-bot}\n"
                       "spec: {sponsor: alice, account: \"999988887777\"}\n",
                       "a.yaml"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_THAT((*r)->roles.at("deployer").trust.json,
              HasSubstr("arn:aws:iam::999988887777:user/xrole/agent/deploy-bot"));
}

TEST(BuildCatalogTest, ExpandedTrustShorthandDecidesAsBeforeWithoutItsReferences) {
  std::shared_ptr<const Catalog> base =
      MustBuild(Concat(MustParse(kOrg, "org.yaml"), MustParse(kRole, "r.yaml")));
  const std::string trust_before = base->roles.at("deployer").trust.json;
  struct Named {
    ObjectKind kind;
    std::string name;
  };
  for (const Named& named :
       {Named{ObjectKind::kAgent, "deploy-bot"}, Named{ObjectKind::kWorkflow, "deploy"}}) {
    const std::string key = std::string(ObjectKindName(named.kind)) + "/" + named.name;
    // The shorthand refers to the object: deleting it alone is refused.
    EXPECT_FALSE(BuildCatalog(*base, {}, {key}).ok()) << key;
    Result<std::vector<ObjectDocument>> expanded =
        ExpandTrustShorthandsNaming(*base, named.kind, named.name);
    ASSERT_TRUE(expanded.ok()) << expanded.error().message();
    ASSERT_EQ(expanded->size(), 1u) << key;
    EXPECT_EQ((*expanded)[0].kind, ObjectKind::kExecutionRole);
    EXPECT_EQ((*expanded)[0].name, "deployer");
    EXPECT_THAT((*expanded)[0].canonical_json, Not(HasSubstr("\"agents\"")));
    EXPECT_THAT((*expanded)[0].canonical_json, Not(HasSubstr("\"humans\"")));
    // With the expanded role the object can go, and the trust policy is the very same text.
    Result<std::shared_ptr<const Catalog>> r = BuildCatalog(*base, *expanded, {key});
    ASSERT_TRUE(r.ok()) << key << ": " << r.error().message();
    EXPECT_EQ((*r)->roles.at("deployer").trust.json, trust_before) << key;
    EXPECT_EQ((*r)->roles.at("deployer").permissions.size(), 2u);
  }
  // Nothing to expand: an agent no shorthand names, and kinds a shorthand cannot name here.
  EXPECT_TRUE(ExpandTrustShorthandsNaming(*base, ObjectKind::kAgent, "other-bot")->empty());
  EXPECT_TRUE(ExpandTrustShorthandsNaming(*base, ObjectKind::kHuman, "bob")->empty());
  EXPECT_TRUE(ExpandTrustShorthandsNaming(*base, ObjectKind::kExecutionRole, "deployer")->empty());
}

TEST(BuildCatalogTest, StoredDocumentsMustBeIntact) {
  std::vector<ObjectDocument> docs = MustParse(kOrg, "org.yaml");
  std::vector<ObjectDocument> tampered = docs;
  tampered[0].hash = std::string(64, '0');
  Result<std::shared_ptr<const Catalog>> r = BuildCatalog(Catalog{}, tampered);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("hash does not match"));

  tampered = docs;
  tampered[0].name = "mallory";
  r = BuildCatalog(Catalog{}, tampered);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("Human/alice"));

  tampered = docs;
  tampered[0].canonical_json.insert(1, " ");
  tampered[0].hash.clear();
  r = BuildCatalog(Catalog{}, tampered);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("not in canonical form"));
}

TEST(ExamplesTest, ScenarioRoleFilesBuildACatalog) {
  const std::filesystem::path dir = std::filesystem::path(XROLE_SOURCE_DIR) / "examples/roles";
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 5u);
  std::vector<ObjectDocument> docs;
  for (const auto& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    docs = Concat(std::move(docs), MustParse(text.str(), file.filename().string()));
  }
  std::shared_ptr<const Catalog> catalog = MustBuild(docs);
  for (const char* role : {"incident-responder", "deploy-staging", "deploy-production",
                           "enrich-reader-writer", "remediation-tagger"}) {
    EXPECT_EQ(catalog->roles.count(role), 1u) << role;
  }
  for (const char* workflow :
       {"incident-response", "code-deploy", "data-enrichment", "remediation"}) {
    EXPECT_EQ(catalog->workflows.count(workflow), 1u) << workflow;
  }
  EXPECT_EQ(catalog->guardrails.count("protect-evidence-and-logging"), 1u);
  EXPECT_EQ(catalog->managed_policies.at("read-only-evidence").Arn(),
            "arn:aws:iam::111122223333:policy/incident-response/read-only-evidence");
  EXPECT_TRUE(catalog->roles.at("deploy-production").approval_required);
  EXPECT_EQ(catalog->roles.at("deploy-production").account, "444455556666");
  EXPECT_EQ(catalog->roles.at("deploy-staging").account, "222233334444");
  EXPECT_FALSE(catalog->roles.at("remediation-tagger").objective.empty());

  // The production trust needs the change ticket on the run.
  const ExecutionRole& production = catalog->roles.at("deploy-production");
  std::shared_ptr<const policy::CompiledPolicySet> compiled = CompileTrust(production);
  ASSERT_NE(compiled, nullptr);
  policy::Request request;
  request.principal = catalog->agents.at("code-agent").Arn();
  request.action = "sts:AssumeRole";
  request.resource = production.Arn();
  request.context.Set("xrole:Workflow", policy::ContextValue::Scalar("code-deploy"));
  EXPECT_EQ(policy::Evaluate(*compiled, request).decision, policy::Decision::kImplicitlyDenied);
  request.context.Set("xrole:RunTag/change-ticket", policy::ContextValue::Scalar("INC-1"));
  EXPECT_EQ(policy::Evaluate(*compiled, request).decision, policy::Decision::kImplicitlyDenied);
  request.context.Set("xrole:RunTag/change-ticket", policy::ContextValue::Scalar("CHG-4711"));
  EXPECT_EQ(policy::Evaluate(*compiled, request).decision, policy::Decision::kAllowed);
  request.principal = catalog->agents.at("ir-agent").Arn();
  EXPECT_EQ(policy::Evaluate(*compiled, request).decision, policy::Decision::kImplicitlyDenied);

  // The guardrail stops evidence destruction whatever the role allows.
  const Guardrail& guardrail = catalog->guardrails.at("protect-evidence-and-logging");
  policy::PolicySet ir;
  ir.identity.push_back(catalog->roles.at("incident-responder").permissions[0].policy);
  ir.scps = std::vector<std::vector<policy::Policy>>{{guardrail.policy.policy}};
  auto ir_compiled = policy::Compile(ir);
  ASSERT_TRUE(ir_compiled.ok());
  policy::Request snapshot;
  snapshot.principal = "arn:aws:sts::111122223333:assumed-role/incident-responder/run-1";
  snapshot.action = "ec2:CreateSnapshot";
  snapshot.resource = "arn:aws:ec2:eu-west-1:111122223333:volume/vol-0abc";
  EXPECT_EQ(policy::Evaluate(**ir_compiled, snapshot).decision, policy::Decision::kAllowed);
  snapshot.action = "ec2:DeleteSnapshot";
  snapshot.resource = "arn:aws:ec2:eu-west-1::snapshot/snap-0abc";
  EXPECT_EQ(policy::Evaluate(**ir_compiled, snapshot).decision,
            policy::Decision::kExplicitlyDenied);
}

}  // namespace
}  // namespace xrole::session
