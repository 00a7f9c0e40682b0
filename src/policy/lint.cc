#include "policy/lint.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/strings.h"
#include "policy/conditions.h"
#include "policy/document.h"
#include "policy/glob.h"
#include "policy/parser.h"
#include "policy/values.h"
#include "policy/variables.h"

namespace xrole::policy {

namespace {

// Quotas reported as warnings (iam-semantics.md 1.1). Identity policies use the customer
// managed policy quota (6,144); inline role policies may be larger in aggregate (10,240), but a
// document that fits the managed quota can be used either way.
constexpr std::size_t kIdentityQuota = 6144;
constexpr std::size_t kTrustQuota = 2048;
constexpr std::size_t kSessionQuota = 2048;
// The largest common resource policy quota (S3 bucket policies: 20 KB).
constexpr std::size_t kResourceQuota = 20480;

constexpr std::array<std::string_view, 8> kPartitions = {
    "aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"};

// Resource-field prefixes of IAM ARNs (Service Authorization Reference, IAM resource types).
constexpr std::array<std::string_view, 17> kIamResourcePrefixes = {"user/",
                                                                   "federated-user/",
                                                                   "role/",
                                                                   "group/",
                                                                   "instance-profile/",
                                                                   "mfa/",
                                                                   "server-certificate/",
                                                                   "policy/",
                                                                   "sms-mfa/",
                                                                   "saml-provider/",
                                                                   "oidc-provider/",
                                                                   "report/",
                                                                   "access-report/",
                                                                   "assumed-role/",
                                                                   "delegation-request/",
                                                                   "role-template/",
                                                                   "root"};

// Global condition keys that carry a single value (iam-semantics.md 3.3 lists the multivalued
// ones). Tag keys below are single-valued per tag.
constexpr std::array<std::string_view, 34> kSingleValuedGlobalKeys = {
    "aws:sourceip",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principalorgid",
    "aws:principaltype",
    "aws:username",
    "aws:userid",
    "aws:requestedregion",
    "aws:securetransport",
    "aws:multifactorauthpresent",
    "aws:multifactorauthage",
    "aws:currenttime",
    "aws:epochtime",
    "aws:tokenissuetime",
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceorgid",
    "aws:resourceaccount",
    "aws:resourceorgid",
    "aws:referer",
    "aws:useragent",
    "aws:viaawsservice",
    "aws:calledviafirst",
    "aws:calledvialast",
    "aws:principalisawsservice",
    "aws:principalservicename",
    "aws:federatedprovider",
    "aws:vpcsourceip",
    "aws:sourceidentity",
    "aws:ec2instancesourcevpc",
    "aws:ec2instancesourceprivateipv4",
    "aws:sourcevpcarn"};
constexpr std::array<std::string_view, 3> kSingleValuedGlobalKeyPrefixes = {
    "aws:principaltag/", "aws:requesttag/", "aws:resourcetag/"};

std::string Quote(std::string_view s) { return "`" + std::string(s) + "`"; }

bool HasWildcard(std::string_view s) { return s.find_first_of("*?") != std::string_view::npos; }

// Does the action pattern (as written) cover `action` ("iam:PassRole")?
bool ActionPatternCovers(std::string_view pattern, std::string_view action) {
  return GlobMatch(AsciiLower(pattern), AsciiLower(action));
}

// Operator families come from the one operator table (operators.h / conditions.h).
bool IsStringOperator(BaseOperator op) { return FamilyOf(op) == OperandFamily::kString; }
bool IsNumericOperator(BaseOperator op) { return FamilyOf(op) == OperandFamily::kNumeric; }
bool IsDateOperator(BaseOperator op) { return FamilyOf(op) == OperandFamily::kDate; }
bool IsArnOperator(BaseOperator op) { return FamilyOf(op) == OperandFamily::kArn; }

// One element value with where it was written.
struct Located {
  std::string text;
  std::string path;
  SourceLocation location;
  bool is_null = false;
};

// The string entries of a string-or-array element, with their paths and locations.
std::vector<Located> LocateList(const json::Value& value, const std::string& path) {
  std::vector<Located> out;
  if (value.is_string()) {
    out.push_back({value.text(), path, value.location(), false});
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.items().size(); ++i) {
      const json::Value& item = *value.items()[i];
      out.push_back(
          {item.text(), path + "[" + std::to_string(i) + "]", item.location(), item.is_null()});
    }
  }
  return out;
}

const json::Member* FindMember(const json::Value& object, std::string_view name) {
  for (const json::Member& m : object.members()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

class Linter {
 public:
  Linter(PolicyKind kind, const ActionCatalogue* catalogue, const LintOptions& options)
      : kind_(kind), catalogue_(catalogue), options_(options) {}

  std::vector<Finding> Run(std::string_view text);

 private:
  void Add(Severity severity, std::string code, std::string message, std::string path,
           SourceLocation location) {
    findings_.push_back({severity, std::move(code), std::move(message), std::move(path), location});
  }
  // A finding that IAM CreatePolicy treats as an error, Access Analyzer as `severity`.
  Severity Strict(Severity severity) const {
    return options_.iam_create_policy_rules ? Severity::kError : severity;
  }
  bool IamKind() const {
    return kind_ == PolicyKind::kIdentity || kind_ == PolicyKind::kBoundary ||
           kind_ == PolicyKind::kTrust || kind_ == PolicyKind::kSession;
  }

  void LintDocument(const json::Value& root);
  void LintStatement(const Statement& st, const json::Value& value);
  void LintActions(const Statement& st, const json::Member& member);
  void LintAction(const Located& action);
  void LintResources(const Statement& st, const json::Member& member);
  void LintResource(const Statement& st, const Located& resource);
  void LintPrincipal(const Statement& st, const json::Member& member);
  void LintCondition(const Statement& st, const json::Member& member);
  void LintConditionValue(const ConditionClause& clause, const Located& value);
  bool IsSingleValuedKey(std::string_view key_lower) const;
  void ReportDuplicates(const std::vector<Located>& items, bool case_insensitive,
                        std::string_view code, std::string_view what);

  PolicyKind kind_;
  const ActionCatalogue* catalogue_;
  LintOptions options_;
  std::shared_ptr<const PolicyDocument> doc_;
  std::vector<Finding> findings_;
};

std::vector<Finding> Linter::Run(std::string_view text) {
  auto root = json::Parse(text);
  if (!root.ok()) {
    Add(Severity::kError,
        root.error().code() == ErrorCode::kLimitExceeded ? "limit-exceeded" : "invalid-json",
        root.error().message(), root.error().path(), root.error().location());
    return std::move(findings_);
  }
  auto doc = ParseDocumentText(text, kind_);
  if (!doc.ok()) {
    const Error& e = doc.error();
    Add(Severity::kError,
        e.code() == ErrorCode::kLimitExceeded ? "limit-exceeded" : "invalid-policy", e.message(),
        e.path(), e.location());
    return std::move(findings_);
  }
  doc_ = *doc;
  LintDocument(**root);
  return std::move(findings_);
}

void Linter::LintDocument(const json::Value& root) {
  const PolicyDocument& doc = *doc_;
  const SourceLocation root_location = root.location();
  if (!doc.version_present) {
    Add(Strict(Severity::kWarning), "missing-version",
        "missing `Version`: the document is read as `2008-10-17`, where policy variables are "
        "literal text; add \"Version\": \"2012-10-17\"",
        "", root_location);
  } else if (doc.version == PolicyVersion::k2008) {
    const json::Value* v = root.Find("Version");
    const bool has_variables = root.ToJson().find("${") != std::string::npos;
    if (options_.iam_create_policy_rules || has_variables) {
      Add(Strict(Severity::kWarning), "old-version",
          has_variables ? "`Version` `2008-10-17` treats policy variables as literal text"
                        : "`Version` `2008-10-17` is not accepted by IAM; use `2012-10-17`",
          "Version", v != nullptr ? v->location() : root_location);
    }
  }
  if (doc.id.has_value() && (kind_ == PolicyKind::kIdentity || kind_ == PolicyKind::kBoundary ||
                             kind_ == PolicyKind::kSession)) {
    const json::Value* v = root.Find("Id");
    Add(Severity::kWarning, "id-in-identity-policy", "`Id` is not used in identity-based policies",
        "Id", v != nullptr ? v->location() : root_location);
  }
  std::size_t quota = 0;
  switch (kind_) {
    case PolicyKind::kIdentity:
    case PolicyKind::kBoundary:
      quota = kIdentityQuota;
      break;
    case PolicyKind::kTrust:
      quota = kTrustQuota;
      break;
    case PolicyKind::kSession:
      quota = kSessionQuota;
      break;
    case PolicyKind::kResource:
      quota = kResourceQuota;
      break;
    case PolicyKind::kScp:
    case PolicyKind::kRcp:
      break;  // enforced by the parser
  }
  if (quota > 0 && doc.size_without_whitespace > quota) {
    Add(Severity::kWarning, "policy-size",
        "policy is " + std::to_string(doc.size_without_whitespace) +
            " characters without whitespace, over the " + std::to_string(quota) +
            " character quota of " + std::string(PolicyKindName(kind_)) + " policies",
        "", root_location);
  }

  // Sids: unique (empty ones excepted, as IAM does) and alphanumeric in IAM documents.
  std::map<std::string, int> sids;
  const json::Value* statements = root.Find("Statement");
  for (const Statement& st : doc.statements) {
    const json::Value& value = statements->is_array()
                                   ? *statements->items()[static_cast<std::size_t>(st.index)]
                                   : *statements;
    if (st.sid.has_value() && !st.sid->empty()) {
      const json::Value* sid_value = value.Find("Sid");
      const SourceLocation loc = sid_value->location();
      auto [it, inserted] = sids.emplace(*st.sid, st.index);
      if (!inserted) {
        Add(Strict(Severity::kWarning), "duplicate-sid",
            "`Sid` " + Quote(*st.sid) + " is also used by statement " + std::to_string(it->second) +
                "; statement ids should be unique",
            JoinPath(st.path, "Sid"), loc);
      }
      if (IamKind() && !std::all_of(st.sid->begin(), st.sid->end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
          })) {
        Add(Severity::kWarning, "sid-characters",
            "`Sid` " + Quote(*st.sid) + " should contain only letters and digits in " +
                std::string(PolicyKindName(kind_)) + " policies",
            JoinPath(st.path, "Sid"), loc);
      }
    }
    LintStatement(st, value);
  }
}

void Linter::LintStatement(const Statement& st, const json::Value& value) {
  const bool allow = st.effect == Effect::kAllow;
  const json::Member* action_member = FindMember(value, st.not_action ? "NotAction" : "Action");
  const json::Member* resource_member =
      FindMember(value, st.not_resource ? "NotResource" : "Resource");
  const json::Member* principal_member =
      FindMember(value, st.not_principal ? "NotPrincipal" : "Principal");
  const json::Member* condition_member = FindMember(value, "Condition");

  if (action_member != nullptr) LintActions(st, *action_member);
  if (resource_member != nullptr) LintResources(st, *resource_member);
  if (principal_member != nullptr) LintPrincipal(st, *principal_member);
  if (condition_member != nullptr) LintCondition(st, *condition_member);

  const bool action_star =
      !st.not_action && std::find(st.actions.begin(), st.actions.end(), "*") != st.actions.end();
  const bool resource_star =
      st.resources.has_value() && !st.not_resource &&
      std::find(st.resources->begin(), st.resources->end(), "*") != st.resources->end();

  // Security warnings. Filters (boundaries, session policies, SCPs, RCPs) grant nothing, so an
  // Allow of everything there is the normal "no filter" statement, not an admin wrapper.
  const bool grants = kind_ == PolicyKind::kIdentity || kind_ == PolicyKind::kResource ||
                      kind_ == PolicyKind::kTrust;
  if (allow && grants && action_star && resource_star) {
    Add(Severity::kSecurityWarning, "admin-wrapper",
        "statement allows every action on every resource (`Action` `*` with `Resource` `*`)",
        st.path, st.location);
  }
  // The admin wrapper already covers iam:PassRole on everything.
  if (allow && action_member != nullptr && !(action_star && resource_star)) {
    bool covers_pass_role = false;
    if (st.not_action) {
      covers_pass_role = std::none_of(st.actions.begin(), st.actions.end(), [](const auto& a) {
        return ActionPatternCovers(a, "iam:PassRole");
      });
    } else {
      covers_pass_role = std::any_of(st.actions.begin(), st.actions.end(), [](const auto& a) {
        return ActionPatternCovers(a, "iam:PassRole");
      });
    }
    const bool broad_resource = resource_star || st.not_resource;
    if (covers_pass_role && (broad_resource || st.not_action) && st.resources.has_value()) {
      Add(Severity::kSecurityWarning, "pass-role-wildcard",
          std::string("statement allows `iam:PassRole` ") +
              (st.not_action     ? "through `NotAction`"
               : st.not_resource ? "through `NotResource`"
                                 : "on every role (`Resource` `*`)") +
              "; name the roles that may be passed",
          st.path, st.location);
    }
  }
  if (allow && st.not_action && action_member != nullptr) {
    Add(Severity::kSecurityWarning, "allow-not-action",
        "`Allow` with `NotAction` grants every action not listed, including future ones",
        JoinPath(st.path, "NotAction"), action_member->name_location);
  }
  if (allow && st.not_resource && resource_member != nullptr) {
    Add(Severity::kSecurityWarning, "allow-not-resource",
        "`Allow` with `NotResource` grants access to every resource not listed",
        JoinPath(st.path, "NotResource"), resource_member->name_location);
  }
  if (allow && st.not_principal && principal_member != nullptr) {
    Add(Severity::kSecurityWarning, "allow-not-principal",
        "`Allow` with `NotPrincipal` grants access to every principal not listed",
        JoinPath(st.path, "NotPrincipal"), principal_member->name_location);
  }
  if (kind_ == PolicyKind::kTrust && allow && st.principal.has_value() && st.principal->wildcard &&
      st.conditions.empty()) {
    Add(Severity::kSecurityWarning, "trust-wildcard-principal",
        "trust policy lets any principal (`*`) assume the role without a condition",
        JoinPath(st.path, "Principal"),
        principal_member != nullptr ? principal_member->value->location() : st.location);
  }

  // Organizations rules.
  if (kind_ == PolicyKind::kScp) {
    if (allow && condition_member != nullptr) {
      Add(Severity::kWarning, "scp-legacy-condition-in-allow",
          "`Condition` in an `Allow` statement of a service control policy is not supported by "
          "the original SCP syntax",
          JoinPath(st.path, "Condition"), condition_member->name_location);
    }
    if (allow && st.not_action && action_member != nullptr) {
      Add(Severity::kWarning, "scp-legacy-not-action-in-allow",
          "`NotAction` in an `Allow` statement of a service control policy is not supported by "
          "the original SCP syntax",
          JoinPath(st.path, "NotAction"), action_member->name_location);
    }
    if (st.not_resource && resource_member != nullptr) {
      Add(Severity::kWarning, "scp-legacy-not-resource",
          "`NotResource` in a service control policy is not supported by the original SCP "
          "syntax",
          JoinPath(st.path, "NotResource"), resource_member->name_location);
    }
    if (allow && !st.not_resource && st.resources.has_value() && resource_member != nullptr &&
        std::any_of(st.resources->begin(), st.resources->end(),
                    [](const std::string& r) { return r != "*"; })) {
      Add(Severity::kWarning, "scp-legacy-resource-in-allow",
          "a `Resource` other than `*` in an `Allow` statement of a service control policy is "
          "not supported by the original SCP syntax",
          JoinPath(st.path, "Resource"), resource_member->name_location);
    }
    if (action_member != nullptr) {
      for (const Located& a :
           LocateList(*action_member->value, JoinPath(st.path, action_member->name))) {
        const std::size_t star = a.text.find_first_of("*?");
        if (a.text != "*" && star != std::string::npos && star + 1 != a.text.size()) {
          Add(Severity::kWarning, "scp-legacy-action-wildcard",
              "action " + Quote(a.text) +
                  " has a wildcard before its end, which the original SCP syntax does not "
                  "support",
              a.path, a.location);
        }
      }
    }
  }
  if (kind_ == PolicyKind::kRcp && allow) {
    Add(Severity::kWarning, "rcp-allow",
        "only the AWS-managed `RCPFullAWSAccess` may use `Allow`; customer resource control "
        "policies are deny-only",
        JoinPath(st.path, "Effect"), st.location);
  }
}

void Linter::ReportDuplicates(const std::vector<Located>& items, bool case_insensitive,
                              std::string_view code, std::string_view what) {
  std::set<std::string> seen;
  for (const Located& item : items) {
    if (item.is_null) continue;
    const std::string key = case_insensitive ? AsciiLower(item.text) : item.text;
    if (!seen.insert(key).second) {
      Add(Severity::kSuggestion, std::string(code),
          "redundant " + std::string(what) + " " + Quote(item.text) + ": already listed", item.path,
          item.location);
    }
  }
}

void Linter::LintActions(const Statement& st, const json::Member& member) {
  const std::string path = JoinPath(st.path, member.name);
  const std::vector<Located> actions = LocateList(*member.value, path);
  if (member.value->is_array() && member.value->items().empty()) {
    Add(Strict(Severity::kSuggestion), "empty-action",
        "empty " + Quote(member.name) + " array: " +
            (st.not_action ? "the statement applies to every action"
                           : "the statement never applies"),
        path, member.value->location());
  }
  for (const Located& a : actions) {
    if (a.is_null) {
      Add(Severity::kWarning, "null-value", "null entry in " + Quote(member.name) + " is ignored",
          a.path, a.location);
      continue;
    }
    LintAction(a);
  }
  ReportDuplicates(actions, /*case_insensitive=*/true, "redundant-action", "action");
}

void Linter::LintAction(const Located& a) {
  const std::string& text = a.text;
  if (text == "*") return;
  const std::size_t colon = text.find(':');
  if (colon == std::string::npos) {
    Add(Severity::kError, "invalid-action",
        "action " + Quote(text) +
            " must be `*` or `service:action` (prefaced by a service "
            "prefix such as `iam` or `s3`)",
        a.path, a.location);
    return;
  }
  if (text.find(':', colon + 1) != std::string::npos) {
    Add(Severity::kError, "invalid-action", "action " + Quote(text) + " may contain only one colon",
        a.path, a.location);
    return;
  }
  const std::string_view service = std::string_view(text).substr(0, colon);
  const std::string_view name = std::string_view(text).substr(colon + 1);
  if (HasWildcard(service)) {
    Add(Severity::kError, "wildcard-in-service",
        "action " + Quote(text) + " has a wildcard in its service prefix " + Quote(service), a.path,
        a.location);
    return;
  }
  const bool service_ok =
      !service.empty() && std::all_of(service.begin(), service.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_';
      });
  if (!service_ok) {
    Add(Severity::kError, "invalid-service",
        "service prefix " + Quote(service) + " of action " + Quote(text) + " is not valid", a.path,
        a.location);
    return;
  }
  if (name.empty()) {
    Add(Severity::kError, "invalid-action", "action " + Quote(text) + " has no action name", a.path,
        a.location);
    return;
  }
  if (name.find_first_of(" \t\r\n") != std::string_view::npos) {
    Add(Severity::kWarning, "action-whitespace",
        "action " + Quote(text) + " contains whitespace and matches no action", a.path, a.location);
    return;
  }
  if (catalogue_ == nullptr) return;
  if (!catalogue_->HasService(service)) {
    Add(Severity::kError, "unknown-service",
        "unknown service prefix " + Quote(service) + " in action " + Quote(text), a.path,
        a.location);
    return;
  }
  if (HasWildcard(name)) {
    if (catalogue_->MatchActions(service, name).empty()) {
      Add(Severity::kError, "unknown-action",
          "action pattern " + Quote(text) + " matches no action of " + Quote(service), a.path,
          a.location);
    }
  } else if (!catalogue_->HasAction(service, name)) {
    Add(Severity::kError, "unknown-action",
        "unknown action " + Quote(text) + ": " + Quote(service) + " has no action " + Quote(name),
        a.path, a.location);
  }
}

void Linter::LintResources(const Statement& st, const json::Member& member) {
  const std::string path = JoinPath(st.path, member.name);
  const std::vector<Located> resources = LocateList(*member.value, path);
  if (member.value->is_array() && member.value->items().empty()) {
    Add(Strict(Severity::kSuggestion), "empty-resource",
        "empty " + Quote(member.name) + " array: " +
            (st.not_resource ? "the statement applies to every resource"
                             : "the statement never applies"),
        path, member.value->location());
  }
  for (const Located& r : resources) {
    if (r.is_null) {
      Add(Severity::kWarning, "null-value", "null entry in " + Quote(member.name) + " is ignored",
          r.path, r.location);
      continue;
    }
    LintResource(st, r);
  }
  ReportDuplicates(resources, /*case_insensitive=*/false, "redundant-resource", "resource");
}

void Linter::LintResource(const Statement& st, const Located& r) {
  const std::string& text = r.text;
  if (text == "*") return;
  const bool v2012 = doc_->version == PolicyVersion::k2012;
  if (text.rfind("arn:", 0) != 0) {
    Add(Severity::kError, "invalid-arn",
        "resource " + Quote(text) + " must be an ARN (`arn:partition:service:...`) or `*`", r.path,
        r.location);
    return;
  }
  // Split into at most six fields; the resource field keeps its colons.
  std::vector<std::string_view> fields;
  std::string_view rest(text);
  while (fields.size() < 5) {
    const std::size_t colon = rest.find(':');
    if (colon == std::string_view::npos) break;
    fields.push_back(rest.substr(0, colon));
    rest.remove_prefix(colon + 1);
  }
  fields.push_back(rest);
  const std::string_view partition = fields.size() > 1 ? fields[1] : std::string_view();
  if (fields.size() < 3 || fields[2].empty()) {
    Add(Severity::kError, "invalid-arn",
        "resource " + Quote(text) + " must name its service (`arn:partition:service:...`)", r.path,
        r.location);
    return;
  }
  const bool partition_ok =
      HasWildcard(partition) || partition.find("${") != std::string_view::npos ||
      std::find(kPartitions.begin(), kPartitions.end(), partition) != kPartitions.end();
  if (!partition_ok) {
    Add(Severity::kError, "invalid-arn-partition",
        "partition " + Quote(partition) + " of resource " + Quote(text) + " is not valid", r.path,
        r.location);
    return;
  }
  const std::string_view service = fields[2];
  if (HasWildcard(service)) {
    Add(Severity::kError, "wildcard-in-arn-service",
        "resource " + Quote(text) + " has a wildcard in its service field " + Quote(service),
        r.path, r.location);
    return;
  }
  const bool ends_in_star = !text.empty() && text.back() == '*';
  if (fields.size() == 3 && !ends_in_star) {
    Add(Severity::kWarning, "short-arn",
        "resource " + Quote(text) +
            " has only three ARN fields and no trailing `*`, so it matches no resource",
        r.path, r.location);
  } else if (fields.size() > 3 && fields.size() < 6 && !ends_in_star) {
    Add(Severity::kError, "invalid-arn",
        "resource " + Quote(text) + " has " + std::to_string(fields.size()) +
            " of the six ARN fields (`arn:partition:service:region:account:resource`)",
        r.path, r.location);
    return;
  }
  if (fields.size() == 6) {
    const std::string service_lower = AsciiLower(service);
    const std::string_view region = fields[3];
    const std::string_view account = fields[4];
    const std::string_view resource = fields[5];
    if (service_lower == "iam") {
      if (!region.empty() && region != "*") {
        Add(Severity::kError, "invalid-arn",
            "IAM resource " + Quote(text) + " cannot contain region information", r.path,
            r.location);
        return;
      }
      const std::size_t literal_end = resource.find_first_of("*?$");
      const std::string_view literal = resource.substr(0, literal_end);
      const bool open = literal_end != std::string_view::npos;
      const bool prefix_ok = std::any_of(
          kIamResourcePrefixes.begin(), kIamResourcePrefixes.end(), [&](std::string_view p) {
            return literal.rfind(p, 0) == 0 || (open && p.rfind(literal, 0) == 0);
          });
      if (!prefix_ok) {
        Add(Severity::kError, "invalid-arn",
            "IAM resource " + Quote(text) +
                " must have a resource part of `*` or start with a resource type such as "
                "`user/`, `role/`, `group/` or `policy/`",
            r.path, r.location);
        return;
      }
    } else if (service_lower == "s3" && !region.empty() && account.empty()) {
      Add(Severity::kError, "invalid-arn",
          "S3 resource " + Quote(text) +
              " cannot contain region information without an account (bucket and object ARNs "
              "have neither)",
          r.path, r.location);
      return;
    }
  }
  if (text.find("${") != std::string::npos) {
    if (v2012) {
      Status valid = ValidateVariables(text);
      if (!valid.ok()) {
        Add(Severity::kError, "invalid-variable",
            "resource " + Quote(text) + ": " + valid.error().message(), r.path, r.location);
        return;
      }
      if (st.effect == Effect::kAllow && st.not_resource) {
        Add(Severity::kSecurityWarning, "variable-in-allow-not-resource",
            "a variable in `NotResource` of an `Allow` statement excludes nothing when it "
            "cannot be resolved, so the statement then allows every resource",
            r.path, r.location);
      }
    } else {
      Add(Severity::kWarning, "variable-in-old-version",
          "resource " + Quote(text) +
              " contains `${`, which is literal text in a `2008-10-17` policy",
          r.path, r.location);
    }
  }
}

void Linter::LintPrincipal(const Statement& st, const json::Member& member) {
  if (!member.value->is_object()) return;
  for (const json::Member& m : member.value->members()) {
    const std::string path = JoinPath(JoinPath(st.path, member.name), m.name);
    if (m.value->is_array() && m.value->items().empty()) {
      Add(Severity::kSuggestion, "empty-principal",
          "empty " + Quote(m.name) + " principal array names no principal", path,
          m.value->location());
    }
    const std::vector<Located> values = LocateList(*m.value, path);
    for (const Located& v : values) {
      if (v.is_null) {
        Add(Severity::kWarning, "null-value", "null entry in " + Quote(m.name) + " is ignored",
            v.path, v.location);
      }
    }
    ReportDuplicates(values, /*case_insensitive=*/false, "redundant-principal", "principal");
  }
}

bool Linter::IsSingleValuedKey(std::string_view key_lower) const {
  if (std::find(kSingleValuedGlobalKeys.begin(), kSingleValuedGlobalKeys.end(), key_lower) !=
      kSingleValuedGlobalKeys.end()) {
    return true;
  }
  for (std::string_view prefix : kSingleValuedGlobalKeyPrefixes) {
    if (key_lower.size() > prefix.size() && key_lower.substr(0, prefix.size()) == prefix) {
      return true;
    }
  }
  if (catalogue_ != nullptr) {
    if (auto type = catalogue_->ConditionKeyType(key_lower)) {
      return type->rfind("ArrayOf", 0) != 0;
    }
  }
  return false;
}

void Linter::LintCondition(const Statement& st, const json::Member& member) {
  const std::string condition_path = JoinPath(st.path, "Condition");
  std::size_t clause_index = 0;
  for (const json::Member& op : member.value->members()) {
    const std::string op_path = JoinPath(condition_path, op.name);
    if (op.value->members().empty()) {
      const bool known =
          std::any_of(st.conditions.begin(), st.conditions.end(),
                      [&](const ConditionClause& c) { return c.operator_name == op.name; });
      // The parser keeps no clause for an empty block; decide whether the name is known by
      // asking the parser about a one-key block.
      std::string probe = R"({"Statement":{"Effect":"Deny","Action":"a:b","Resource":"*",)"
                          R"("Condition":{)";
      json::AppendQuoted(probe, op.name);
      probe += R"(:{"k":"v"}}}})";
      if (!known && !ParseDocumentText(probe, PolicyKind::kIdentity).ok()) {
        Add(Severity::kWarning, "unknown-condition-operator",
            "unknown condition operator " + Quote(op.name) +
                " (accepted only because its block is empty)",
            op_path, op.name_location);
      } else {
        Add(Severity::kSuggestion, "empty-condition-block",
            "condition operator " + Quote(op.name) + " has no condition keys", op_path,
            op.name_location);
      }
      continue;
    }
    for (const json::Member& key : op.value->members()) {
      if (clause_index >= st.conditions.size()) return;  // INVARIANT: parser order = JSON order
      const ConditionClause& clause = st.conditions[clause_index++];
      std::vector<Located> scalars;
      if (key.value->is_array()) {
        for (std::size_t i = 0; i < key.value->items().size(); ++i) {
          const json::Value& item = *key.value->items()[i];
          scalars.push_back(
              {item.text(), clause.path + "[" + std::to_string(i) + "]", item.location()});
        }
        if (scalars.empty()) {
          Add(Severity::kSuggestion, "empty-condition-values",
              "condition key " + Quote(clause.key) + " under " + Quote(clause.operator_name) +
                  " has an empty list of values",
              clause.path, key.value->location());
        }
      } else {
        scalars.push_back({key.value->text(), clause.path, key.value->location()});
      }
      if (clause.set == SetQualifier::kForAllValues && IsSingleValuedKey(clause.key_lower)) {
        Add(Severity::kSecurityWarning, "for-all-values-single-valued-key",
            "`ForAllValues` with the single-valued key " + Quote(clause.key) +
                " is true when the key is absent; use the operator without `ForAllValues`",
            clause.path, clause.location);
      }
      for (const Located& v : scalars) LintConditionValue(clause, v);
      ReportDuplicates(scalars, /*case_insensitive=*/false, "redundant-condition-value",
                       "condition value");
    }
  }
}

void Linter::LintConditionValue(const ConditionClause& clause, const Located& v) {
  const std::string& text = v.text;
  const bool has_variable = text.find("${") != std::string::npos;
  const bool v2012 = doc_->version == PolicyVersion::k2012;
  auto bad_value = [&](std::string_view type) {
    Add(Severity::kError, "invalid-condition-value",
        "value " + Quote(text) + " of " + Quote(clause.key) + " is not a valid " +
            std::string(type) + " for " + Quote(clause.operator_name),
        v.path, v.location);
  };
  auto no_variables = [&]() {
    if (has_variable && v2012) {
      Add(Severity::kError, "variable-not-allowed",
          "policy variables are not allowed in values of " + Quote(clause.operator_name), v.path,
          v.location);
      return false;
    }
    return true;
  };
  const BaseOperator op = clause.op;
  if (IsNumericOperator(op)) {
    if (no_variables() && !ParseNumber(text).has_value()) bad_value("number");
  } else if (IsDateOperator(op)) {
    if (no_variables() && !ParseDateMillis(text).has_value()) bad_value("date");
  } else if (op == BaseOperator::kIpAddress || op == BaseOperator::kNotIpAddress) {
    if (no_variables() && !ParseIpNetwork(text).has_value()) bad_value("IP address or CIDR");
  } else if (op == BaseOperator::kNull) {
    if (no_variables() && !ParseBool(text).has_value()) bad_value("boolean (`true`/`false`)");
  } else if (op == BaseOperator::kBinaryEquals) {
    if (no_variables() && !DecodeBase64(text).has_value()) bad_value("base64 value");
  } else if (op == BaseOperator::kBool) {
    if (!(has_variable && v2012) && !ParseBool(text).has_value()) {
      bad_value("boolean (`true`/`false`)");
    }
  }
  if ((IsStringOperator(op) || IsArnOperator(op) || op == BaseOperator::kBool) && has_variable &&
      v2012) {
    Status valid = ValidateVariables(text);
    if (!valid.ok()) {
      Add(Severity::kError, "invalid-variable",
          "value " + Quote(text) + " of " + Quote(clause.key) + ": " + valid.error().message(),
          v.path, v.location);
    }
  }
  if ((op == BaseOperator::kStringEquals || op == BaseOperator::kStringNotEquals ||
       op == BaseOperator::kStringEqualsIgnoreCase ||
       op == BaseOperator::kStringNotEqualsIgnoreCase) &&
      HasWildcard(text)) {
    Add(Severity::kWarning, "wildcard-in-non-like-operator",
        "value " + Quote(text) + " contains a wildcard, which " + Quote(clause.operator_name) +
            " compares literally; use a `Like` operator to match patterns",
        v.path, v.location);
  }
}

void AppendSarifString(std::string& out, std::string_view s) { json::AppendQuoted(out, s); }

std::string_view SarifLevel(Severity s) {
  switch (s) {
    case Severity::kError:
      return "error";
    case Severity::kSecurityWarning:
    case Severity::kWarning:
      return "warning";
    case Severity::kSuggestion:
      return "note";
  }
  return "note";
}

}  // namespace

std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kError:
      return "error";
    case Severity::kSecurityWarning:
      return "security-warning";
    case Severity::kWarning:
      return "warning";
    case Severity::kSuggestion:
      return "suggestion";
  }
  return "error";
}

std::vector<Finding> LintPolicy(std::string_view text, PolicyKind kind,
                                const ActionCatalogue* catalogue, const LintOptions& options) {
  Linter linter(kind, catalogue, options);
  return linter.Run(text);
}

std::vector<Finding> LintPolicy(std::string_view text, PolicyKind kind,
                                const ActionCatalogue* catalogue) {
  return LintPolicy(text, kind, catalogue, LintOptions{});
}

PolicyKind DetectPolicyKind(std::string_view text, PolicyKind fallback) {
  auto root = json::Parse(text);
  if (!root.ok() || !(*root)->is_object()) return fallback;
  const json::Value* statements = (*root)->Find("Statement");
  if (statements == nullptr) return fallback;
  std::vector<const json::Value*> list;
  if (statements->is_object()) {
    list.push_back(statements);
  } else if (statements->is_array()) {
    for (const auto& item : statements->items()) {
      if (item->is_object()) list.push_back(item.get());
    }
  }
  bool has_principal = false;
  bool has_resource = false;
  bool only_sts = true;
  for (const json::Value* st : list) {
    if (st->Find("Principal") != nullptr || st->Find("NotPrincipal") != nullptr) {
      has_principal = true;
    }
    if (st->Find("Resource") != nullptr || st->Find("NotResource") != nullptr) {
      has_resource = true;
    }
    const json::Value* action = st->Find("Action");
    if (action == nullptr) action = st->Find("NotAction");
    if (action == nullptr) continue;
    for (const Located& a : LocateList(*action, "")) {
      const std::string lower = AsciiLower(a.text);
      if (lower.rfind("sts:assumerole", 0) != 0 && lower != "sts:tagsession" &&
          lower != "sts:setsourceidentity" && lower != "sts:setcontext") {
        only_sts = false;
      }
    }
  }
  if (!has_principal) return fallback;
  return (only_sts && !has_resource) ? PolicyKind::kTrust : PolicyKind::kResource;
}

Result<PolicyKind> PolicyKindFromName(std::string_view name) {
  for (PolicyKind k :
       {PolicyKind::kIdentity, PolicyKind::kResource, PolicyKind::kTrust, PolicyKind::kBoundary,
        PolicyKind::kSession, PolicyKind::kScp, PolicyKind::kRcp}) {
    if (PolicyKindName(k) == name) return k;
  }
  return Error(ErrorCode::kInvalidArgument,
               "unknown policy kind " + Quote(name) +
                   ": expected `identity`, `resource`, `trust`, `boundary`, `session`, `scp` or "
                   "`rcp`");
}

bool HasErrors(const std::vector<FileFindings>& files) {
  for (const FileFindings& f : files) {
    for (const Finding& finding : f.findings) {
      if (finding.severity == Severity::kError) return true;
    }
  }
  return false;
}

std::string FormatFindingsText(const std::vector<FileFindings>& files) {
  std::string out;
  for (const FileFindings& f : files) {
    for (const Finding& x : f.findings) {
      out += f.file + ":" + std::to_string(x.location.line) + ":" +
             std::to_string(x.location.column) + ": " + std::string(SeverityName(x.severity)) +
             " " + x.code + ": " + x.message;
      if (!x.path.empty()) out += " [" + x.path + "]";
      out += "\n";
    }
  }
  return out;
}

std::string FormatFindingsJson(const std::vector<FileFindings>& files) {
  std::string out = "[";
  bool first = true;
  for (const FileFindings& f : files) {
    for (const Finding& x : f.findings) {
      if (!first) out += ",";
      first = false;
      out += "\n  {\"file\":";
      json::AppendQuoted(out, f.file);
      out += ",\"line\":" + std::to_string(x.location.line) +
             ",\"column\":" + std::to_string(x.location.column) + ",\"severity\":";
      json::AppendQuoted(out, SeverityName(x.severity));
      out += ",\"code\":";
      json::AppendQuoted(out, x.code);
      out += ",\"message\":";
      json::AppendQuoted(out, x.message);
      out += ",\"path\":";
      json::AppendQuoted(out, x.path);
      out += "}";
    }
  }
  out += first ? "]\n" : "\n]\n";
  return out;
}

std::string FormatFindingsSarif(const std::vector<FileFindings>& files) {
  // One rule per code, in order of first use; its default level is that of its first finding.
  std::vector<std::pair<std::string, Severity>> rules;
  auto rule_index = [&](const Finding& x) {
    for (std::size_t i = 0; i < rules.size(); ++i) {
      if (rules[i].first == x.code) return i;
    }
    rules.emplace_back(x.code, x.severity);
    return rules.size() - 1;
  };
  std::string results;
  bool first = true;
  for (const FileFindings& f : files) {
    for (const Finding& x : f.findings) {
      const std::size_t index = rule_index(x);
      if (!first) results += ",";
      first = false;
      results += "{\"ruleId\":";
      AppendSarifString(results, x.code);
      results += ",\"ruleIndex\":" + std::to_string(index) + ",\"level\":";
      AppendSarifString(results, SarifLevel(x.severity));
      results += ",\"message\":{\"text\":";
      AppendSarifString(results, x.message);
      results += "},\"locations\":[{\"physicalLocation\":{\"artifactLocation\":{\"uri\":";
      AppendSarifString(results, f.file);
      results += "}";
      if (x.location.known()) {
        results += ",\"region\":{\"startLine\":" + std::to_string(x.location.line) +
                   ",\"startColumn\":" + std::to_string(std::max(1, x.location.column)) + "}";
      }
      results += "}}],\"properties\":{\"jsonPath\":";
      AppendSarifString(results, x.path);
      results += ",\"severity\":";
      AppendSarifString(results, SeverityName(x.severity));
      results += "}}";
    }
  }
  std::string out =
      "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\","
      "\"runs\":[{\"tool\":{\"driver\":{\"name\":\"xrole\",\"rules\":[";
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (i > 0) out += ",";
    out += "{\"id\":";
    AppendSarifString(out, rules[i].first);
    out += ",\"shortDescription\":{\"text\":";
    AppendSarifString(out, rules[i].first);
    out += "},\"defaultConfiguration\":{\"level\":";
    AppendSarifString(out, SarifLevel(rules[i].second));
    out += "}}";
  }
  out += "]}},\"results\":[" + results + "]}]}\n";
  return out;
}

}  // namespace xrole::policy
