#include "session/aws_export.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include "policy/catalogue.h"
#include "policy/document.h"
#include "policy/lint.h"

namespace xrole::session {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using policy::ContextValue;
using policy::Decision;
using policy::PolicyKind;
using ::testing::HasSubstr;

// Roles that exercise what the scenarios do not: xrole keys in conditions and variables, a
// trust shorthand with humans and conditions, broad grants under guardrails (one allow-list
// SCP from 00-org.yaml, one deny-only SCP, one deny-only RCP).
constexpr std::string_view kExtraRoles = R"(apiVersion: xrole/v1
kind: Guardrail
metadata: {name: keep-keys-and-scratch}
spec:
  policy:
    Version: "2012-10-17"
    Statement:
      - Sid: NeverDeleteKeys
        Effect: Deny
        Action: [kms:ScheduleKeyDeletion, kms:DisableKey]
        Resource: "*"
      - Sid: ScratchOnlyFromScratchWork
        Effect: Deny
        Action: s3:PutObject
        Resource: arn:aws:s3:::scratch/*
        Condition:
          StringNotEquals:
            xrole:Workflow: scratch-work
---
apiVersion: xrole/v1
kind: Guardrail
metadata: {name: secrets-for-secops}
spec:
  scope: resource
  policy:
    Version: "2012-10-17"
    Statement:
      - Sid: SecretsOnlyForSecops
        Effect: Deny
        Principal: "*"
        Action: secretsmanager:GetSecretValue
        Resource: "*"
        Condition:
          StringNotEqualsIfExists:
            aws:PrincipalTag/team: secops
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata:
  name: scratch-worker
  owner: platform@example.com
spec:
  description: "Scratch space per run \u2014 tests the export"
  objective: Keep each run's scratch data apart (ISO 27001 A.8.3; "need to know")
  maxSessionDuration: 2h
  trust:
    agents: [code-agent, enrich-agent]
    workflows: [scratch-work]
    humans: [alice, bob]
    conditions:
      StringEquals:
        xrole:AgentSponsor: alice
      StringLike:
        xrole:HumanTag/team: [plat*, sre]
  permissions:
    - name: per-run scratch
      policy:
        Version: "2012-10-17"
        Statement:
          - Sid: OwnRunPrefix
            Effect: Allow
            Action: [s3:GetObject, s3:PutObject, s3:DeleteObject]
            Resource: arn:aws:s3:::scratch/${xrole:RunId}/*
          - Sid: BroadEc2
            Effect: Allow
            Action: ec2:*
            Resource: "*"
          - Sid: KeysForTheCodeAgent
            Effect: Allow
            Action: kms:*
            Resource: arn:aws:kms:eu-west-1:111122223333:key/*
            Condition:
              StringEquals:
                xrole:Agent: code-agent
          - Sid: SecretsOnBehalfOfAlice
            Effect: Allow
            Action: secretsmanager:GetSecretValue
            Resource: arn:aws:secretsmanager:eu-west-1:111122223333:secret:scratch-*
            Condition:
              StringEqualsIfExists:
                xrole:OnBehalfOf: alice
          - Sid: NeverWithSponsorKey
            Effect: Deny
            Action: ec2:TerminateInstances
            Resource: "*"
            Condition:
              StringEquals:
                xrole:AgentSponsor: alice
    - name: ticketed
      policy:
        Version: "2012-10-17"
        Statement:
          - Sid: TicketedWrites
            Effect: Allow
            Action: dynamodb:PutItem
            Resource: arn:aws:dynamodb:eu-west-1:111122223333:table/${xrole:RunTag/ticket}
            Condition:
              StringLike:
                xrole:RunTag/ticket: CHG-*
  boundary:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: [s3:*, ec2:*, kms:*, secretsmanager:GetSecretValue, dynamodb:PutItem]
        Resource: "*"
  tags:
    team: platform
---
apiVersion: xrole/v1
kind: Workflow
metadata: {name: scratch-work}
spec:
  roles: [scratch-worker]
)";

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<ObjectDocument> ExampleDocuments() {
  const fs::path dir = fs::path(XROLE_SOURCE_DIR) / "examples/roles";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<ObjectDocument> docs;
  for (const auto& file : files) {
    auto parsed = ParseObjectDocuments(ReadAll(file), file.filename().string());
    EXPECT_TRUE(parsed.ok()) << parsed.error().ToString();
    if (parsed.ok()) docs.insert(docs.end(), parsed->begin(), parsed->end());
  }
  return docs;
}

std::shared_ptr<const Catalog> Build(std::vector<ObjectDocument> docs, std::string_view extra) {
  if (!extra.empty()) {
    auto parsed = ParseObjectDocuments(extra, "extra.yaml");
    EXPECT_TRUE(parsed.ok()) << parsed.error().ToString();
    if (parsed.ok()) docs.insert(docs.end(), parsed->begin(), parsed->end());
  }
  auto catalog = BuildCatalog(Catalog{}, docs);
  EXPECT_TRUE(catalog.ok()) << catalog.error().ToString();
  return catalog.ok() ? *catalog : nullptr;
}

const policy::ActionCatalogue* Actions() {
  static const std::optional<policy::ActionCatalogue> loaded =
      []() -> std::optional<policy::ActionCatalogue> {
    auto dir = policy::ActionCatalogue::FindDefaultDirectory();
    if (!dir) return std::nullopt;
    auto catalogue = policy::ActionCatalogue::LoadFromDirectory(*dir);
    if (!catalogue.ok()) return std::nullopt;
    return std::move(catalogue).value();
  }();
  return loaded ? &*loaded : nullptr;
}

AwsExport MustExport(const Catalog& catalog, AwsExportOptions options = {}) {
  options.catalogue = Actions();
  auto exported = ExportAws(catalog, options);
  EXPECT_TRUE(exported.ok()) << exported.error().ToString();
  return exported.ok() ? std::move(exported).value() : AwsExport{};
}

class AwsExportTest : public ::testing::Test {
 protected:
  AwsExportTest() {
    std::string pattern = (fs::temp_directory_path() / "xrole-aws-export-XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
    catalog_ = Build(ExampleDocuments(), kExtraRoles);
  }
  ~AwsExportTest() override { fs::remove_all(root_); }

  fs::path root_;
  std::shared_ptr<const Catalog> catalog_;
};

// ---- the exported files, read back from disk ------------------------------------------------

struct ExportedPolicy {
  std::string file;
  std::string use;
  PolicyKind kind;
  policy::Policy policy;
};

struct ExportedRole {
  Json role;  // role.json
  std::vector<ExportedPolicy> policies;

  std::vector<const ExportedPolicy*> WithUse(std::string_view use) const {
    std::vector<const ExportedPolicy*> out;
    for (const auto& p : policies) {
      if (p.use == use) out.push_back(&p);
    }
    return out;
  }
  const ExportedPolicy* File(std::string_view file) const {
    for (const auto& p : policies) {
      if (p.file == file) return &p;
    }
    return nullptr;
  }
};

// Reads `dir`/index.json and every policy file it lists, parsing each as the kind it names.
std::map<std::string, ExportedRole> ReadExport(const fs::path& dir) {
  std::map<std::string, ExportedRole> roles;
  const Json index = Json::parse(ReadAll(dir / "index.json"));
  for (const Json& entry : index["roles"]) {
    const std::string name = entry["name"];
    ExportedRole& role = roles[name];
    role.role = Json::parse(ReadAll(dir / name / "role.json"));
    for (const Json& file : entry["files"]) {
      if (!file.contains("kind")) continue;
      auto kind = policy::PolicyKindFromName(file["kind"].get<std::string>());
      EXPECT_TRUE(kind.ok());
      const std::string text = ReadAll(dir / name / file["path"].get<std::string>());
      auto parsed = policy::ParsePolicy(text, *kind, file["awsName"].get<std::string>());
      EXPECT_TRUE(parsed.ok()) << name << "/" << file["path"] << ": " << parsed.error().ToString();
      if (!parsed.ok()) continue;
      role.policies.push_back({file["path"], file["use"], *kind, *parsed});
    }
  }
  return roles;
}

// ---- policy sets, the way the broker builds them --------------------------------------------

std::optional<policy::Policy> AllowAll(PolicyKind kind) {
  auto parsed = policy::ParsePolicy(
      kind == PolicyKind::kScp
          ? R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})"
          : R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]})",
      kind, "allow-all");
  EXPECT_TRUE(parsed.ok());
  return parsed.ok() ? std::optional<policy::Policy>(*parsed) : std::nullopt;
}

// Guardrails as organisation levels (broker.cc's SetCatalog): deny-only ones share one level
// with an allow-all; one that allows anything is a level of its own.
std::optional<std::vector<std::vector<policy::Policy>>> Levels(
    const std::vector<policy::Policy>& guardrails, PolicyKind kind) {
  std::vector<policy::Policy> base;
  std::vector<std::vector<policy::Policy>> levels;
  for (const policy::Policy& p : guardrails) {
    const auto& statements = p.document().statements;
    const bool allows = std::any_of(statements.begin(), statements.end(), [](const auto& st) {
      return st.effect == policy::Effect::kAllow;
    });
    if (allows) {
      levels.push_back({p});
    } else {
      base.push_back(p);
    }
  }
  if (base.empty() && levels.empty()) return std::nullopt;
  if (!base.empty()) {
    base.insert(base.begin(), *AllowAll(kind));
    levels.insert(levels.begin(), std::move(base));
  }
  return levels;
}

policy::PolicySet InMemorySet(const Catalog& catalog, const ExecutionRole& role) {
  policy::PolicySet set;
  for (const auto& p : role.permissions) set.identity.push_back(p.policy);
  if (role.boundary) set.boundaries.push_back(role.boundary->policy);
  std::vector<policy::Policy> scps, rcps;
  for (const auto& [name, g] : catalog.guardrails) {
    (g.scope == GuardrailScope::kPrincipal ? scps : rcps).push_back(g.policy.policy);
  }
  set.scps = Levels(scps, PolicyKind::kScp);
  set.rcps = Levels(rcps, PolicyKind::kRcp);
  return set;
}

policy::PolicySet ExportedSet(const ExportedRole& role) {
  policy::PolicySet set;
  for (const auto* p : role.WithUse("inline")) set.identity.push_back(p->policy);
  for (const auto* p : role.WithUse("boundary")) set.boundaries.push_back(p->policy);
  std::vector<policy::Policy> scps, rcps;
  for (const auto* p : role.WithUse("scp")) scps.push_back(p->policy);
  for (const auto* p : role.WithUse("rcp")) rcps.push_back(p->policy);
  set.scps = Levels(scps, PolicyKind::kScp);
  set.rcps = Levels(rcps, PolicyKind::kRcp);
  return set;
}

std::shared_ptr<const policy::CompiledPolicySet> MustCompile(const policy::PolicySet& set) {
  auto compiled = policy::Compile(set);
  EXPECT_TRUE(compiled.ok()) << compiled.error().ToString();
  return compiled.ok() ? *compiled : nullptr;
}

// What must not differ between the two evaluations: the decision, the layer that failed to
// allow, and which statements decided (policy names differ: IAM's names are sanitised).
using Outcome = std::tuple<Decision, policy::Layer,
                           std::vector<std::tuple<policy::Layer, std::string, int, std::string>>>;

Outcome OutcomeOf(const policy::EvaluationResult& result) {
  std::vector<std::tuple<policy::Layer, std::string, int, std::string>> reasons;
  for (const auto& r : result.reasons) reasons.emplace_back(r.layer, r.policy, r.statement, r.sid);
  std::sort(reasons.begin(), reasons.end());
  return {result.decision, result.denied_by, reasons};
}

std::string Describe(const policy::Request& request) {
  std::string out = request.action + " on " + request.resource + " {";
  std::map<std::string, std::string> sorted;
  for (const auto& [k, v] : request.context.values()) {
    std::string values;
    for (const auto& s : v.values) values += (values.empty() ? "" : ",") + s;
    sorted[k] = v.is_list ? "[" + values + "]" : values;
  }
  for (const auto& [k, v] : sorted) out += " " + k + "=" + v;
  return out + " }";
}

// ---- request samples generated from the policies ---------------------------------------------

// A concrete value a pattern matches: `*` -> "sample", `?` -> "q"; `${...}` -> `variable`.
std::string Instance(std::string_view pattern, const std::string& variable) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern.substr(i, 2) == "${") {
      const std::size_t close = pattern.find('}', i);
      if (close != std::string_view::npos) {
        const std::string_view inner = pattern.substr(i + 2, close - i - 2);
        out += inner == "*" ? "*" : inner == "?" ? "?" : variable;
        i = close;
        continue;
      }
    }
    out += pattern[i] == '*'   ? std::string("sample")
           : pattern[i] == '?' ? "q"
                               : std::string(1, pattern[i]);
  }
  return out;
}

// Values near `value` that a pattern written for it should not match.
std::vector<std::string> NearMisses(const std::string& value) {
  std::vector<std::string> out = {value + "-other"};
  for (auto [from, to] :
       {std::pair<std::string_view, std::string_view>{"111122223333", "999988887777"},
        {"eu-west-1", "us-east-1"},
        {":s3:::", ":s3:::other-"}}) {
    const std::size_t at = value.find(from);
    if (at != std::string::npos) {
      std::string changed = value;
      changed.replace(at, from.size(), to);
      out.push_back(changed);
    }
  }
  return out;
}

struct Sample {
  std::set<std::string> actions;
  std::set<std::string> resources;
  // Context keys used in conditions, with values that match and values that do not.
  std::map<std::string, std::set<std::string>> keys;
  std::set<std::string> list_keys;  // used with a set qualifier
};

void AddPolicy(const policy::Policy& p, const std::string& variable, Sample& sample) {
  for (const auto& st : p.document().statements) {
    for (const std::string& action : st.actions) {
      const std::string concrete = action == "*" ? "iam:PassRole" : Instance(action, variable);
      sample.actions.insert(concrete);
      sample.actions.insert(concrete + "Extra");
      const std::size_t colon = concrete.find(':');
      if (colon != std::string::npos) sample.actions.insert("zzz" + concrete.substr(colon));
      const std::size_t action_colon = action.find(':');
      const policy::ActionCatalogue* catalogue = Actions();
      if (catalogue != nullptr && action_colon != std::string::npos) {
        const std::string service = action.substr(0, action_colon);
        auto matches = catalogue->MatchActions(service, action.substr(action_colon + 1));
        for (std::size_t i = 0; i < matches.size() && i < 3; ++i) {
          sample.actions.insert(service + ":" + matches[i]);
        }
      }
    }
    if (st.resources) {
      for (const std::string& resource : *st.resources) {
        if (resource == "*") continue;
        const std::string concrete = Instance(resource, variable);
        sample.resources.insert(concrete);
        for (const std::string& miss : NearMisses(concrete)) sample.resources.insert(miss);
      }
    }
    for (const auto& clause : st.conditions) {
      auto& values = sample.keys[clause.key_lower];
      for (const std::string& v : clause.values) {
        values.insert(Instance(v, variable));
        values.insert(Instance(v, variable) + "-other");
      }
      if (clause.set != policy::SetQualifier::kNone) sample.list_keys.insert(clause.key_lower);
    }
  }
}

// The `xrole:` keys the broker sets (broker.cc): when deciding an assume (trust) and a
// session's request; it drops callers' values for every other `xrole:` key.
bool BrokerSets(std::string_view key_lower, PolicyKind kind) {
  static const std::set<std::string, std::less<>> kTrust = {
      "xrole:workflow",     "xrole:runid",      "xrole:agent",
      "xrole:agentsponsor", "xrole:onbehalfof", "xrole:parentsessionid"};
  static const std::set<std::string, std::less<>> kSession = {
      "xrole:sessionid",  "xrole:runid",           "xrole:agent",
      "xrole:onbehalfof", "xrole:parentsessionid", "xrole:workflow"};
  if (!key_lower.starts_with("xrole:")) return true;
  if (key_lower.starts_with("xrole:runtag/")) return true;
  if (key_lower.starts_with("xrole:humantag/")) return kind == PolicyKind::kTrust;
  return (kind == PolicyKind::kTrust ? kTrust : kSession).count(key_lower) > 0;
}

// Contexts: the base, then each sampled key set to each sampled value (one key at a time),
// then every key at once at its first value; `optional_keys` can also be dropped one by one.
// Only keys a request of `kind` can carry are set.
std::vector<policy::Context> Contexts(const policy::Context& base, const Sample& sample,
                                      const std::vector<std::string>& optional_keys,
                                      PolicyKind kind) {
  std::vector<policy::Context> out = {base};
  policy::Context all = base;
  for (const auto& [key, values] : sample.keys) {
    if (!BrokerSets(key, kind)) continue;
    const bool list = sample.list_keys.count(key) > 0;
    for (const std::string& v : values) {
      policy::Context c = base;
      c.Set(key, list ? ContextValue::List({v}) : ContextValue::Scalar(v));
      out.push_back(c);
      if (list) {
        c.Set(key, ContextValue::List({v, "zz-unlisted"}));
        out.push_back(c);
      }
    }
    if (!values.empty()) {
      all.Set(key,
              list ? ContextValue::List({*values.begin()}) : ContextValue::Scalar(*values.begin()));
    }
  }
  out.push_back(all);
  for (const std::string& key : optional_keys) {
    policy::Context c;
    for (const auto& [k, v] : base.values()) {
      if (k != key) c.Set(k, v);
    }
    out.push_back(c);
  }
  return out;
}

constexpr std::string_view kRunId = "run-00112233445566778899";

// The broker's principal context of a session of `role` (broker.cc PrincipalContext).
policy::Context SessionContext(const Catalog& catalog, const ExecutionRole& role) {
  policy::Context c;
  c.Set("aws:PrincipalArn", ContextValue::Scalar(role.Arn()));
  c.Set("aws:PrincipalAccount", ContextValue::Scalar(role.account));
  for (const auto& [k, v] : role.tags) c.Set("aws:PrincipalTag/" + k, ContextValue::Scalar(v));
  c.Set("aws:PrincipalType", ContextValue::Scalar("AssumedRole"));
  c.Set("aws:TokenIssueTime", ContextValue::Scalar("2026-06-01T10:00:00Z"));
  c.Set("xrole:SessionId", ContextValue::Scalar("ses-0011"));
  c.Set("xrole:RunId", ContextValue::Scalar(std::string(kRunId)));
  std::string workflow = "none";
  for (const auto& [name, w] : catalog.workflows) {
    if (std::count(w.roles.begin(), w.roles.end(), role.name)) workflow = name;
  }
  c.Set("xrole:Workflow", ContextValue::Scalar(workflow));
  c.Set("xrole:Agent", ContextValue::Scalar("code-agent"));
  c.Set("xrole:OnBehalfOf", ContextValue::Scalar("alice"));
  c.Set("xrole:RunTag/ticket", ContextValue::Scalar("CHG-7"));
  return c;
}

// ---- tests ------------------------------------------------------------------------------------

TEST_F(AwsExportTest, EveryExampleRoleExportsLintCleanAndParses) {
  ASSERT_NE(catalog_, nullptr);
  AwsExport exported = MustExport(*catalog_);
  ASSERT_EQ(exported.roles.size(), catalog_->roles.size());
  std::set<std::string> paths;
  for (const ExportedFile& f : exported.files) paths.insert(f.path);
  for (const auto& [name, role] : catalog_->roles) {
    for (const char* file :
         {"role.json", "trust-policy.json", "cloudformation.yaml", "main.tf", "revoke-run.json",
          "revoke-run.example.json", "revoke-issued-before.json",
          "scp-protect-evidence-and-logging.json"}) {
      EXPECT_TRUE(paths.count(name + "/" + file)) << name << "/" << file;
    }
    EXPECT_EQ(paths.count(name + "/boundary.json"), role.boundary ? 1u : 0u) << name;
  }
  EXPECT_TRUE(paths.count("README.md"));
  EXPECT_TRUE(paths.count("index.json"));
  EXPECT_TRUE(paths.count("scratch-worker/rcp-secrets-for-secops.json"));
  EXPECT_TRUE(paths.count("scratch-worker/policy-per-run-scratch.json"));

  policy::LintOptions strict;
  strict.iam_create_policy_rules = true;
  for (const AwsRoleExport& role : exported.roles) {
    for (const AwsPolicyFile& p : role.policies) {
      for (const policy::Finding& f : policy::LintPolicy(p.text, p.kind, Actions(), strict)) {
        EXPECT_NE(f.severity, policy::Severity::kError)
            << role.role << "/" << p.file << ": " << f.code << ": " << f.message;
      }
      EXPECT_TRUE(policy::ParsePolicy(p.text, p.kind).ok()) << p.file;
    }
  }
  for (const ExportedFile& f : exported.files) {
    if (f.path.ends_with(".json")) {
      EXPECT_FALSE(Json::parse(f.content, nullptr, false).is_discarded()) << f.path;
    }
    if (f.path.ends_with(".yaml")) {
      EXPECT_NO_THROW(YAML::Load(f.content)) << f.path;
    }
  }
}

TEST_F(AwsExportTest, TranslatesTheRole) {
  AwsExport exported = MustExport(*catalog_);
  std::map<std::string, std::string> files;
  for (const ExportedFile& f : exported.files) files[f.path] = f.content;

  const Json role = Json::parse(files.at("incident-responder/role.json"));
  EXPECT_EQ(role["RoleName"], "incident-responder");
  EXPECT_EQ(role["Path"], "/");
  EXPECT_EQ(role["MaxSessionDuration"], 3600);  // 15 min in xrole; IAM's floor is 1 h
  EXPECT_THAT(role["Description"].get<std::string>(),
              HasSubstr("Objective: Contain compromised instances"));
  std::map<std::string, std::string> tags;
  for (const Json& t : role["Tags"]) tags[t["Key"]] = t["Value"];
  EXPECT_EQ(tags["team"], "secops");
  EXPECT_EQ(tags["xrole-max-session-seconds"], "900");
  EXPECT_EQ(tags["xrole-objective"],
            "Contain compromised instances without destroying evidence NIST SP 800-61r2 3.3.1");
  EXPECT_EQ(tags["xrole-role-version"], catalog_->roles.at("incident-responder").hash);
  EXPECT_FALSE(role.contains("PermissionsBoundary"));

  const Json production = Json::parse(files.at("deploy-production/role.json"));
  EXPECT_EQ(production["PermissionsBoundary"],
            "arn:aws:iam::444455556666:policy/xrole/deploy-production-boundary");

  const Json trust = Json::parse(files.at("deploy-production/trust-policy.json"));
  const Json& st = trust["Statement"][0];
  EXPECT_EQ(st["Action"], Json({"sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"}));
  EXPECT_EQ(st["Principal"]["AWS"][0], "arn:aws:iam::111122223333:user/xrole/agent/code-agent");
  EXPECT_EQ(st["Condition"]["Null"]["aws:RequestTag/xrole-run"], "false");
  EXPECT_EQ(st["Condition"]["StringEquals"]["aws:RequestTag/xrole-workflow"],
            Json({"code-deploy"}));
  EXPECT_EQ(st["Condition"]["StringLike"]["aws:RequestTag/xrole-run-tag-change-ticket"], "CHG-*");
  EXPECT_EQ(files.at("deploy-production/trust-policy.json").find("xrole:"), std::string::npos);

  // Variables and conditions on xrole keys become the issuer's session tags.
  const std::string scratch = files.at("scratch-worker/policy-per-run-scratch.json");
  EXPECT_THAT(scratch, HasSubstr("arn:aws:s3:::scratch/${aws:PrincipalTag/xrole-run}/*"));
  EXPECT_THAT(scratch, HasSubstr("\"aws:PrincipalTag/xrole-agent\": \"code-agent\""));
  // xrole never sets AgentSponsor in a session's requests: kept, so absent on AWS too.
  EXPECT_THAT(scratch, HasSubstr("\"xrole:AgentSponsor\": \"alice\""));
  EXPECT_THAT(files.at("scratch-worker/policy-ticketed.json"),
              HasSubstr("table/${aws:PrincipalTag/xrole-run-tag-ticket}"));
  EXPECT_THAT(files.at("scratch-worker/trust-policy.json"),
              HasSubstr("\"aws:RequestTag/xrole-human-tag-team\""));
  EXPECT_THAT(files.at("scratch-worker/scp-keep-keys-and-scratch.json"),
              HasSubstr("\"aws:PrincipalTag/xrole-workflow\": \"scratch-work\""));

  const Json revoke = Json::parse(files.at("incident-responder/revoke-run.json"));
  EXPECT_EQ(revoke["Statement"][0]["Effect"], "Deny");
  EXPECT_EQ(revoke["Statement"][0]["Condition"]["StringEquals"]["aws:PrincipalTag/xrole-run"],
            std::string(kAwsRunIdPlaceholder));
  const Json older = Json::parse(files.at("incident-responder/revoke-issued-before.json"));
  EXPECT_TRUE(older["Statement"][0]["Condition"]["DateLessThan"].contains("aws:TokenIssueTime"));
}

TEST_F(AwsExportTest, CloudFormationCarriesTheSameDocuments) {
  AwsExport exported = MustExport(*catalog_);
  std::map<std::string, std::string> files;
  for (const ExportedFile& f : exported.files) files[f.path] = f.content;
  // YAML -> JSON: quoted scalars are strings, plain ones numbers.
  std::function<Json(const YAML::Node&)> to_json = [&](const YAML::Node& node) -> Json {
    if (node.IsMap()) {
      Json out = Json::object();
      for (const auto& item : node) out[item.first.as<std::string>()] = to_json(item.second);
      return out;
    }
    if (node.IsSequence()) {
      Json out = Json::array();
      for (const auto& item : node) out.push_back(to_json(item));
      return out;
    }
    if (node.Tag() == "!") return node.as<std::string>();
    return std::stoll(node.as<std::string>());
  };
  for (const AwsRoleExport& role : exported.roles) {
    const Json tpl = to_json(YAML::Load(files.at(role.role + "/cloudformation.yaml")));
    const Json& props = tpl["Resources"]["Role"]["Properties"];
    const Json role_json = Json::parse(files.at(role.role + "/role.json"));
    EXPECT_EQ(props["AssumeRolePolicyDocument"],
              Json::parse(files.at(role.role + "/trust-policy.json")));
    EXPECT_EQ(props["RoleName"], role_json["RoleName"]);
    EXPECT_EQ(props["MaxSessionDuration"], role_json["MaxSessionDuration"]);
    EXPECT_EQ(props["Tags"], role_json["Tags"]);
    EXPECT_EQ(props.value("Description", Json()), role_json.value("Description", Json()));
    std::size_t inline_count = 0;
    for (const AwsPolicyFile& p : role.policies) {
      if (p.use == "inline") {
        const Json& entry = props["Policies"][inline_count++];
        EXPECT_EQ(entry["PolicyName"], p.aws_name);
        EXPECT_EQ(entry["PolicyDocument"], Json::parse(p.text)) << p.file;
      }
      if (p.use == "boundary") {
        EXPECT_EQ(tpl["Resources"]["Boundary"]["Properties"]["PolicyDocument"],
                  Json::parse(p.text));
        EXPECT_EQ(props["PermissionsBoundary"], Json({{"Ref", "Boundary"}}));
      }
    }
    EXPECT_EQ(props.value("Policies", Json::array()).size(), inline_count);
    // The Terraform module names the same policies.
    const std::string tf = files.at(role.role + "/main.tf");
    EXPECT_THAT(tf, HasSubstr("resource \"aws_iam_role\" \"role\""));
    for (const AwsPolicyFile& p : role.policies) {
      if (p.use == "inline") {
        EXPECT_THAT(tf, HasSubstr("name = \"" + p.aws_name + "\""));
      }
    }
  }
  // Terraform would interpolate `${...}`: IAM variables are escaped.
  EXPECT_THAT(files.at("scratch-worker/main.tf"),
              HasSubstr("arn:aws:s3:::scratch/$${aws:PrincipalTag/xrole-run}/*"));
}

TEST_F(AwsExportTest, ExportIsDeterministic) {
  AwsExport first = MustExport(*catalog_);
  AwsExport second = MustExport(*Build(ExampleDocuments(), kExtraRoles));
  ASSERT_EQ(first.files.size(), second.files.size());
  for (std::size_t i = 0; i < first.files.size(); ++i) {
    EXPECT_EQ(first.files[i].path, second.files[i].path);
    EXPECT_EQ(first.files[i].content, second.files[i].content) << first.files[i].path;
  }
  ASSERT_TRUE(WriteAwsExport(first, (root_ / "a").string()).ok());
  ASSERT_TRUE(WriteAwsExport(second, (root_ / "b").string()).ok());
  std::size_t compared = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root_ / "a")) {
    if (!entry.is_regular_file()) continue;
    const fs::path other = root_ / "b" / fs::relative(entry.path(), root_ / "a");
    EXPECT_EQ(ReadAll(entry.path()), ReadAll(other)) << other;
    ++compared;
  }
  EXPECT_EQ(compared, first.files.size());
}

TEST_F(AwsExportTest, SelectsRolesAndFormats) {
  AwsExportOptions options;
  options.roles = {"deploy-staging"};
  options.cloudformation = false;
  options.terraform = false;
  AwsExport exported = MustExport(*catalog_, options);
  ASSERT_EQ(exported.roles.size(), 1u);
  for (const ExportedFile& f : exported.files) {
    EXPECT_TRUE(f.path.starts_with("deploy-staging/") || f.path == "README.md" ||
                f.path == "index.json")
        << f.path;
    EXPECT_FALSE(f.path.ends_with(".yaml") || f.path.ends_with(".tf")) << f.path;
  }

  options.roles = {"deploy-staging", "no-such-role"};
  auto unknown = ExportAws(*catalog_, options);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(unknown.error().message(), HasSubstr("unknown execution role `no-such-role`"));
}

TEST_F(AwsExportTest, RewritesRemoveStaleFilesOnly) {
  AwsExport exported = MustExport(*catalog_);
  const fs::path out = root_ / "out";
  ASSERT_TRUE(WriteAwsExport(exported, out.string()).ok());
  std::ofstream(out / "deploy-staging" / "policy-removed.json") << "{}";
  std::ofstream(out / "deploy-staging" / "notes.txt") << "mine";
  ASSERT_TRUE(WriteAwsExport(exported, out.string()).ok());
  EXPECT_FALSE(fs::exists(out / "deploy-staging" / "policy-removed.json"));
  EXPECT_TRUE(fs::exists(out / "deploy-staging" / "notes.txt"));
}

TEST_F(AwsExportTest, RefusesWhatIamCannotExpress) {
  auto export_with = [&](std::string_view role_yaml) {
    auto catalog = Build(ExampleDocuments(), role_yaml);
    EXPECT_NE(catalog, nullptr);
    AwsExportOptions options;
    options.roles = {"odd"};
    return ExportAws(*catalog, options);
  };
  const std::string head = R"(apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: odd}
spec:
)";
  const std::string permissions = R"(
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::b/*"}]
)";
  auto open = export_with(head + "  trust: {agents: [\"*\"]}" + permissions);
  ASSERT_FALSE(open.ok());
  EXPECT_THAT(open.error().message(), HasSubstr("every AWS account"));

  auto reserved =
      export_with(head + "  trust: {agents: [code-agent]}\n  tags: {xrole-run: x}" + permissions);
  ASSERT_FALSE(reserved.ok());
  EXPECT_THAT(reserved.error().message(), HasSubstr("reserved"));

  auto bad_tag =
      export_with(head + "  trust: {agents: [code-agent]}\n  tags: {team: \"a;b\"}" + permissions);
  ASSERT_FALSE(bad_tag.ok());
  EXPECT_THAT(bad_tag.error().message(), HasSubstr("not a valid AWS tag"));

  auto tag_keys = export_with(
      head +
      "  trust:\n    agents: [code-agent]\n    conditions:\n      ForAllValues:StringEquals:\n"
      "        aws:TagKeys: [team]\n" +
      permissions);
  ASSERT_FALSE(tag_keys.ok());
  EXPECT_THAT(tag_keys.error().message(), HasSubstr("aws:TagKeys"));

  // Accepted by xrole, refused by IAM's CreatePolicy rules: the linter fails the export.
  auto old_version = export_with(head + "  trust: {agents: [code-agent]}\n" + R"(
  permissions:
    - Version: "2008-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::b/*"}]
)");
  ASSERT_FALSE(old_version.ok());
  EXPECT_THAT(old_version.error().message(), HasSubstr("the linter rejects"));
  EXPECT_THAT(old_version.error().message(), HasSubstr("policy-permissions-0.json"));
}

// Re-importing the exported files gives the decisions of the role in xrole: for requests made of
// every action, resource and condition value the role's policies and the guardrails mention,
// plus near misses of each.
TEST_F(AwsExportTest, ReimportedPoliciesDecideLikeTheRole) {
  AwsExport exported = MustExport(*catalog_);
  ASSERT_TRUE(WriteAwsExport(exported, root_.string()).ok());
  const std::map<std::string, ExportedRole> from_disk = ReadExport(root_);
  ASSERT_EQ(from_disk.size(), catalog_->roles.size());

  std::size_t evaluated = 0;
  std::map<Decision, std::size_t> by_decision;
  for (const auto& [name, role] : catalog_->roles) {
    const ExportedRole& aws = from_disk.at(name);
    auto in_memory = MustCompile(InMemorySet(*catalog_, role));
    auto reimported = MustCompile(ExportedSet(aws));
    ASSERT_TRUE(in_memory && reimported);

    Sample sample;
    const std::string variable(kRunId);
    for (const auto& p : role.permissions) AddPolicy(p.policy, variable, sample);
    if (role.boundary) AddPolicy(role.boundary->policy, variable, sample);
    for (const auto& [g, guardrail] : catalog_->guardrails) {
      AddPolicy(guardrail.policy.policy, variable, sample);
    }
    sample.resources.insert("*");
    const policy::Context base = SessionContext(*catalog_, role);
    const std::vector<policy::Context> contexts =
        Contexts(base, sample, {"xrole:onbehalfof", "xrole:runtag/ticket", "aws:principaltag/team"},
                 PolicyKind::kIdentity);

    // On AWS the session also carries the role's tags as written in role.json.
    std::vector<std::pair<std::string, std::string>> role_tags;
    for (const Json& t : aws.role["Tags"]) role_tags.emplace_back(t["Key"], t["Value"]);

    for (const policy::Context& context : contexts) {
      policy::Request request;
      request.principal = "arn:aws:sts::" + role.account + ":assumed-role/" + name + "/s1";
      request.context = context;
      policy::Request on_aws = request;
      on_aws.context = AwsRequestContext(context, PolicyKind::kIdentity);
      for (const auto& [k, v] : role_tags) {
        if (k.starts_with("xrole-")) {
          on_aws.context.Set("aws:PrincipalTag/" + k, ContextValue::Scalar(v));
        }
      }
      for (const std::string& action : sample.actions) {
        for (const std::string& resource : sample.resources) {
          request.action = on_aws.action = action;
          request.resource = on_aws.resource = resource;
          const auto expected = policy::Evaluate(*in_memory, request);
          const auto actual = policy::Evaluate(*reimported, on_aws);
          ASSERT_EQ(OutcomeOf(expected), OutcomeOf(actual))
              << name << ": " << Describe(request) << "\nexpected "
              << policy::DecisionName(expected.decision) << ", got "
              << policy::DecisionName(actual.decision);
          ++by_decision[expected.decision];
          ++evaluated;
        }
      }
    }
  }
  // The sample reaches every kind of decision, guardrail denials included.
  EXPECT_GT(evaluated, 10000u);
  EXPECT_GT(by_decision[Decision::kAllowed], 100u);
  EXPECT_GT(by_decision[Decision::kExplicitlyDenied], 100u);
  EXPECT_GT(by_decision[Decision::kImplicitlyDenied], 100u);
}

TEST_F(AwsExportTest, ReimportedTrustPoliciesDecideLikeTheRole) {
  AwsExport exported = MustExport(*catalog_);
  ASSERT_TRUE(WriteAwsExport(exported, root_.string()).ok());
  const std::map<std::string, ExportedRole> from_disk = ReadExport(root_);
  auto baseline = policy::ParsePolicy(
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:*","Resource":"*"}]})",
      PolicyKind::kIdentity, "agent-baseline");
  ASSERT_TRUE(baseline.ok());

  std::size_t allowed = 0, denied = 0;
  for (const auto& [name, role] : catalog_->roles) {
    const ExportedPolicy* trust = from_disk.at(name).File("trust-policy.json");
    ASSERT_NE(trust, nullptr);
    policy::PolicySet xrole_set, aws_set;
    xrole_set.identity = aws_set.identity = {*baseline};
    xrole_set.resource = role.trust.policy;
    aws_set.resource = trust->policy;
    auto in_memory = MustCompile(xrole_set);
    auto reimported = MustCompile(aws_set);

    Sample sample;
    AddPolicy(role.trust.policy, std::string(kRunId), sample);
    std::vector<std::pair<std::string, std::string>> callers;  // ARN, agent name
    for (const auto& [agent_name, agent] : catalog_->agents) {
      callers.emplace_back(agent.Arn(), agent_name);
    }
    callers.emplace_back("arn:aws:iam::111122223333:user/xrole/agent/intruder", "intruder");
    std::set<std::string> workflows = {"unlisted-workflow"};
    for (const auto& [w, workflow] : catalog_->workflows) workflows.insert(w);

    for (const auto& [caller, agent_name] : callers) {
      for (const std::string& workflow : workflows) {
        for (const std::string& behalf :
             {std::string(), std::string("alice"), std::string("bob")}) {
          policy::Context base;
          base.Set("aws:PrincipalArn", ContextValue::Scalar(caller));
          base.Set("aws:PrincipalAccount", ContextValue::Scalar(caller.substr(13, 12)));
          base.Set("sts:RoleSessionName", ContextValue::Scalar("s1"));
          base.Set("xrole:Workflow", ContextValue::Scalar(workflow));
          base.Set("xrole:RunId", ContextValue::Scalar(std::string(kRunId)));
          base.Set("xrole:Agent", ContextValue::Scalar(agent_name));
          base.Set("xrole:AgentSponsor", ContextValue::Scalar("alice"));
          if (!behalf.empty()) {
            base.Set("xrole:OnBehalfOf", ContextValue::Scalar(behalf));
            base.Set("xrole:HumanTag/team",
                     ContextValue::Scalar(behalf == "alice" ? "platform" : "sre"));
          }
          for (const policy::Context& context :
               Contexts(base, sample, {"xrole:agentsponsor"}, PolicyKind::kTrust)) {
            policy::Request request;
            request.principal = caller;
            request.action = "sts:AssumeRole";
            request.resource = role.Arn();
            request.context = context;
            policy::Request on_aws = request;
            on_aws.context = AwsRequestContext(context, PolicyKind::kTrust);
            const auto expected = policy::Evaluate(*in_memory, request);
            const auto actual = policy::Evaluate(*reimported, on_aws);
            ASSERT_EQ(expected.decision, actual.decision)
                << name << ": " << caller << " " << Describe(request);
            // The issuer's TagSession and SetSourceIdentity go with the assume.
            for (const char* companion : {"sts:TagSession", "sts:SetSourceIdentity"}) {
              on_aws.action = companion;
              EXPECT_EQ(policy::Evaluate(*reimported, on_aws).decision, expected.decision)
                  << name << ": " << companion;
            }
            (expected.decision == Decision::kAllowed ? allowed : denied)++;
          }
        }
      }
    }
  }
  EXPECT_GT(allowed, 20u);
  EXPECT_GT(denied, 100u);
}

TEST_F(AwsExportTest, RevocationDenyStopsOneRunOnly) {
  AwsExport exported = MustExport(*catalog_);
  ASSERT_TRUE(WriteAwsExport(exported, root_.string()).ok());
  const std::map<std::string, ExportedRole> from_disk = ReadExport(root_);
  const ExportedRole& aws = from_disk.at("incident-responder");

  policy::PolicySet revoked_run = ExportedSet(aws);
  revoked_run.identity.push_back(aws.File("revoke-run.example.json")->policy);
  policy::PolicySet revoked_older = ExportedSet(aws);
  revoked_older.identity.push_back(aws.File("revoke-issued-before.json")->policy);
  policy::PolicySet template_only = ExportedSet(aws);
  template_only.identity.push_back(aws.File("revoke-run.json")->policy);
  auto run_set = MustCompile(revoked_run);
  auto older_set = MustCompile(revoked_older);
  auto template_set = MustCompile(template_only);

  const Json example = Json::parse(ReadAll(root_ / "incident-responder/revoke-run.example.json"));
  const std::string revoked_id =
      example["Statement"][0]["Condition"]["StringEquals"]["aws:PrincipalTag/xrole-run"];
  auto request = [&](const std::string& run_id, const std::string& issued) {
    policy::Request r;
    r.principal = "arn:aws:sts::111122223333:assumed-role/incident-responder/s1";
    r.action = "ec2:StopInstances";
    r.resource = "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc";
    r.context.Set("aws:PrincipalTag/xrole-run", ContextValue::Scalar(run_id));
    r.context.Set("aws:TokenIssueTime", ContextValue::Scalar(issued));
    return r;
  };
  const std::string before = "2025-12-31T23:00:00Z", after = "2026-01-01T00:00:01Z";
  EXPECT_EQ(policy::Evaluate(*run_set, request(revoked_id, after)).decision,
            Decision::kExplicitlyDenied);
  EXPECT_EQ(policy::Evaluate(*run_set, request("run-other", after)).decision, Decision::kAllowed);
  EXPECT_EQ(policy::Evaluate(*older_set, request("run-other", before)).decision,
            Decision::kExplicitlyDenied);
  EXPECT_EQ(policy::Evaluate(*older_set, request("run-other", after)).decision, Decision::kAllowed);
  // The template as written revokes nothing: no run has the placeholder id.
  EXPECT_EQ(policy::Evaluate(*template_set, request(revoked_id, after)).decision,
            Decision::kAllowed);
}

TEST(AwsConditionKeyTest, MapsXroleKeysPerKind) {
  EXPECT_EQ(AwsConditionKey("xrole:RunId", PolicyKind::kTrust), "aws:RequestTag/xrole-run");
  EXPECT_EQ(AwsConditionKey("XROLE:runid", PolicyKind::kIdentity), "aws:PrincipalTag/xrole-run");
  EXPECT_EQ(AwsConditionKey("xrole:RunTag/ticket", PolicyKind::kScp),
            "aws:PrincipalTag/xrole-run-tag-ticket");
  EXPECT_EQ(AwsConditionKey("xrole:SessionId", PolicyKind::kTrust), "xrole:SessionId");
  EXPECT_EQ(AwsConditionKey("xrole:AgentSponsor", PolicyKind::kBoundary), "xrole:AgentSponsor");
  EXPECT_EQ(AwsConditionKey("aws:PrincipalTag/team", PolicyKind::kIdentity),
            "aws:PrincipalTag/team");

  policy::Context xrole;
  xrole.Set("xrole:RunId", ContextValue::Scalar("run-1"));
  xrole.Set("xrole:Agent", ContextValue::Scalar("code-agent"));
  xrole.Set("xrole:SessionId", ContextValue::Scalar("ses-1"));
  xrole.Set("aws:TagKeys", ContextValue::List({"team"}));
  const policy::Context trust = AwsRequestContext(xrole, PolicyKind::kTrust);
  ASSERT_NE(trust.Find("aws:requesttag/xrole-run"), nullptr);
  EXPECT_EQ(trust.Find("xrole:runid"), nullptr);
  EXPECT_EQ(trust.Find("aws:requesttag/xrole-session"), nullptr);
  ASSERT_NE(trust.Find("aws:tagkeys"), nullptr);
  std::vector<std::string> keys = trust.Find("aws:tagkeys")->values;
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"team", "xrole-agent", "xrole-run"}));
  ASSERT_NE(trust.Find("sts:sourceidentity"), nullptr);
  EXPECT_EQ(trust.Find("sts:sourceidentity")->values[0], "code-agent");
  const policy::Context session = AwsRequestContext(xrole, PolicyKind::kIdentity);
  ASSERT_NE(session.Find("aws:principaltag/xrole-session"), nullptr);
  EXPECT_EQ(session.Find("aws:sourceidentity")->values[0], "code-agent");
}

}  // namespace
}  // namespace xrole::session
