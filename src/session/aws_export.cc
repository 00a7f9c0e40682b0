// aws_export.cc: ExportAws. Each role is first turned into in-memory AWS documents (AwsRole:
// the role's IAM attributes and its policy documents as JSON values); role.json, the policy
// files, cloudformation.yaml and main.tf are all rendered from those values, so the three
// formats cannot disagree.
#include "session/aws_export.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include "common/strings.h"
#include "policy/document.h"
#include "policy/lint.h"

namespace xrole::session {
namespace {

using Json = nlohmann::json;
using policy::PolicyKind;

constexpr std::string_view kRequestTagPrefix = "aws:RequestTag/";
constexpr std::string_view kPrincipalTagPrefix = "aws:PrincipalTag/";
constexpr std::string_view kReservedTagPrefix = "xrole-";
constexpr std::string_view kRolePath = "/";  // keeps the role ARN xrole uses
constexpr std::string_view kBoundaryPath = "/xrole/";
constexpr std::int64_t kAwsMinMaxSessionSeconds = 3600;  // IAM MaxSessionDuration: 1 h to 12 h
constexpr std::size_t kInlinePoliciesQuota = 10240;      // per role, without whitespace
constexpr std::size_t kTrustPolicyHardQuota = 4096;      // 2,048 by default, raisable to 4,096
constexpr std::size_t kTrustPolicyDefaultQuota = 2048;
constexpr std::size_t kRoleTagLimit = 50;
constexpr std::size_t kTagKeyLimit = 128;
constexpr std::size_t kTagValueLimit = 256;
constexpr std::size_t kDescriptionLimit = 1000;
constexpr std::size_t kPolicyNameLimit = 128;
constexpr std::string_view kRunIdExample = "run-3f2a9c7e1b0d4a6f8e21";
constexpr std::string_view kIssuedBeforeExample = "2026-01-01T00:00:00Z";

// An `xrole:` context key and the session tag the issuer sets for it. Keys ending in '/' are
// prefixes (xrole:RunTag/KEY -> xrole-run-tag-KEY). `in_trust` / `in_session`: whether xrole
// sets the key when deciding an assume / a session's request.
struct KeyMapping {
  std::string_view key;
  std::string_view tag;
  bool in_trust;
  bool in_session;
};

constexpr KeyMapping kKeyMappings[] = {
    {"xrole:RunId", "xrole-run", true, true},
    {"xrole:Workflow", "xrole-workflow", true, true},
    {"xrole:Agent", "xrole-agent", true, true},
    {"xrole:OnBehalfOf", "xrole-on-behalf-of", true, true},
    {"xrole:ParentSessionId", "xrole-parent-session", true, true},
    {"xrole:SessionId", "xrole-session", false, true},
    {"xrole:AgentSponsor", "xrole-agent-sponsor", true, false},
    {"xrole:RunTag/", "xrole-run-tag-", true, true},
    {"xrole:HumanTag/", "xrole-human-tag-", true, false},
};

// The mapping of `key` usable in a document of `kind`, and the tag key it stands for.
std::optional<std::string> MappedTag(std::string_view key, PolicyKind kind) {
  const bool trust = kind == PolicyKind::kTrust;
  for (const KeyMapping& m : kKeyMappings) {
    if (!(trust ? m.in_trust : m.in_session)) continue;
    if (m.key.back() == '/') {
      if (key.size() > m.key.size() && StartsWithIgnoreCase(key, m.key)) {
        return std::string(m.tag) + std::string(key.substr(m.key.size()));
      }
    } else if (EqualsIgnoreCase(key, m.key)) {
      return std::string(m.tag);
    }
  }
  return std::nullopt;
}

std::string Quote(std::string_view s) { return "`" + std::string(s) + "`"; }

// "role `R`: FILE: PATH: MESSAGE": the role, the exported file (or field) and the JSON path in it.
Error Invalid(std::string_view role, std::string_view what, std::string message,
              std::string_view path = "") {
  std::string where = "role " + Quote(role) + ": " + std::string(what) + ": ";
  if (!path.empty()) where += std::string(path) + ": ";
  return Error(ErrorCode::kInvalidArgument, where + std::move(message));
}

// AWS tag text: letters, digits, spaces and `_ . : / = + - @` (ASCII only here).
bool IsAwsTagChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view(" _.:/=+-@").find(c) != std::string_view::npos;
}

bool IsAwsTagText(std::string_view s) { return std::all_of(s.begin(), s.end(), IsAwsTagChar); }

// The length in code points of UTF-8 `s`.
std::size_t CodePoints(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// Splits UTF-8 `s` into code points, calling `each(code_point, bytes)`.
template <typename Each>
void ForEachCodePoint(std::string_view s, Each each) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    std::size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : 4;
    length = std::min(length, s.size() - i);
    std::uint32_t code = length == 1 ? lead : lead & (0x3F >> (length - 1));
    for (std::size_t k = 1; k < length; ++k) {
      code = (code << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    each(code, s.substr(i, length));
    i += length;
  }
}

// `text` as an IAM role or policy description: tab, newline, carriage return, printable ASCII
// and U+00A1..U+00FF; anything else becomes a space; at most 1,000 characters.
std::string AwsDescription(std::string_view text) {
  std::string out;
  std::size_t count = 0;
  ForEachCodePoint(text, [&](std::uint32_t code, std::string_view bytes) {
    if (count == kDescriptionLimit) return;
    const bool allowed = code == 0x09 || code == 0x0A || code == 0x0D ||
                         (code >= 0x20 && code <= 0x7E) || (code >= 0xA1 && code <= 0xFF);
    if (allowed) {
      out += bytes;
    } else {
      out += ' ';
    }
    ++count;
  });
  return out;
}

// Free text as a tag value: disallowed characters become spaces, runs of spaces one space,
// trimmed, at most 256 characters.
std::string AwsTagValue(std::string_view text) {
  std::string out;
  ForEachCodePoint(text, [&](std::uint32_t code, std::string_view bytes) {
    const char c = code < 0x80 ? bytes[0] : ' ';
    const char kept = IsAwsTagChar(c) && c != '\n' ? c : ' ';
    if (kept == ' ' && (out.empty() || out.back() == ' ')) return;
    out += kept;
  });
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > kTagValueLimit) out.resize(kTagValueLimit);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// A policy name as IAM accepts it ([\w+=,.@-]{1,128}): other characters become '-'.
std::string AwsPolicyName(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("_+=,.@-").find(c) != std::string_view::npos;
    const char kept = ok ? c : '-';
    if (kept == '-' && !out.empty() && out.back() == '-') continue;
    out += kept;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  while (!out.empty() && out.front() == '-') out.erase(out.begin());
  if (out.size() > kPolicyNameLimit) out.resize(kPolicyNameLimit);
  return out;
}

std::string PrettyJson(const Json& value) {
  return value.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

// ---- policy documents: xrole -> AWS -------------------------------------------------------

// Rewrites the `${xrole:...}` variables of `text` to the tags that carry them on AWS.
std::string RewriteVariables(std::string_view text, PolicyKind kind) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t open = text.find("${", i);
    const std::size_t close = open == std::string_view::npos ? open : text.find('}', open + 2);
    if (close == std::string_view::npos) break;
    const std::string_view inner = text.substr(open + 2, close - open - 2);
    std::size_t key_begin = 0;
    while (key_begin < inner.size() && inner[key_begin] == ' ') ++key_begin;
    std::size_t key_end = std::min(inner.find(','), inner.size());
    while (key_end > key_begin && inner[key_end - 1] == ' ') --key_end;
    const std::string_view key = inner.substr(key_begin, key_end - key_begin);
    out += text.substr(i, open - i);
    out += "${";
    out += inner.substr(0, key_begin);
    out += AwsConditionKey(key, kind);
    out += inner.substr(key_end);
    out += "}";
    i = close + 1;
  }
  out += text.substr(std::min(i, text.size()));
  return out;
}

void RewriteStrings(Json& value, PolicyKind kind) {
  if (value.is_string()) {
    value = RewriteVariables(value.get<std::string>(), kind);
  } else if (value.is_array()) {
    for (Json& item : value) RewriteStrings(item, kind);
  }
}

// Translates one statement's condition keys and variables.
Status RewriteStatement(Json& statement, PolicyKind kind, std::string_view role,
                        std::string_view what, const std::string& path) {
  for (const char* field : {"Resource", "NotResource"}) {
    if (statement.contains(field)) RewriteStrings(statement[field], kind);
  }
  if (!statement.contains("Condition") || !statement["Condition"].is_object()) return OkStatus();
  for (auto& [op, block] : statement["Condition"].items()) {
    if (!block.is_object()) continue;
    Json rewritten = Json::object();
    std::set<std::string> seen;
    for (auto& [key, values] : block.items()) {
      const std::string key_path = path + ".Condition." + op + "." + key;
      std::string aws_key = AwsConditionKey(key, kind);
      if (aws_key != key) {
        const std::string tag = *MappedTag(key, kind);
        if (tag.size() > kTagKeyLimit || !IsAwsTagText(tag)) {
          return Invalid(role, what,
                         "condition key " + Quote(key) + " becomes session tag " + Quote(tag) +
                             " on AWS, which is not a valid tag key (1 to 128 of letters, "
                             "digits, spaces and `_ . : / = + - @`)",
                         key_path);
        }
      }
      if (!seen.insert(AsciiLower(aws_key)).second) {
        return Invalid(role, what,
                       "condition keys of " + Quote(op) + " collide on AWS as " + Quote(aws_key),
                       key_path);
      }
      Json translated = values;
      RewriteStrings(translated, kind);
      rewritten[aws_key] = std::move(translated);
    }
    block = std::move(rewritten);
  }
  return OkStatus();
}

bool ListHas(const Json& list, std::string_view value) {
  if (list.is_string()) return EqualsIgnoreCase(list.get<std::string>(), value);
  if (!list.is_array()) return false;
  return std::any_of(list.begin(), list.end(), [&](const Json& item) {
    return item.is_string() && EqualsIgnoreCase(item.get<std::string>(), value);
  });
}

// What AWS needs on top of the translated trust statement: the issuer tags the session and
// sets its source identity, so an AssumeRole grant also allows sts:TagSession and
// sts:SetSourceIdentity, and requires the run tag (a session without it could not be revoked
// by run). A grant to every principal is refused: on AWS `*` is every AWS account.
Status AdaptTrustStatement(Json& statement, std::string_view role, const std::string& path) {
  if (!statement.contains("Effect") || statement["Effect"] != "Allow") return OkStatus();
  if (statement.contains("Principal")) {
    const Json& principal = statement["Principal"];
    const bool everyone = principal == "*" || (principal.is_object() && principal.contains("AWS") &&
                                               ListHas(principal["AWS"], "*"));
    if (everyone) {
      return Invalid(role, "trust-policy.json",
                     "the trust policy allows every principal (`*`; the shorthand's `agents: "
                     "[\"*\"]`): on AWS that is every AWS account; name the agents instead",
                     path + ".Principal");
    }
  }
  if (statement.contains("Condition") && statement["Condition"].is_object()) {
    for (auto& [op, block] : statement["Condition"].items()) {
      if (!block.is_object()) continue;
      for (auto& [key, values] : block.items()) {
        if (EqualsIgnoreCase(key, "aws:TagKeys")) {
          return Invalid(role, "trust-policy.json",
                         "a trust condition on `aws:TagKeys` does not translate: on AWS the "
                         "request also carries the issuer's `xrole-*` session tags",
                         path + ".Condition." + op + "." + key);
        }
      }
    }
  }
  if (!statement.contains("Action") || !ListHas(statement["Action"], "sts:AssumeRole")) {
    return OkStatus();
  }
  Json actions = statement["Action"].is_array() ? statement["Action"] : Json::array();
  if (statement["Action"].is_string()) actions.push_back(statement["Action"]);
  for (const char* action : {"sts:TagSession", "sts:SetSourceIdentity"}) {
    if (!ListHas(actions, action)) actions.push_back(action);
  }
  statement["Action"] = std::move(actions);

  Json& conditions = statement["Condition"];
  if (conditions.is_null()) conditions = Json::object();
  Json& null_block = conditions["Null"];
  if (null_block.is_null()) null_block = Json::object();
  const std::string run_key = std::string(kRequestTagPrefix) + std::string(kAwsRunTag);
  std::vector<std::string> spellings;  // of run_key already in the block
  for (auto& [key, value] : null_block.items()) {
    if (!EqualsIgnoreCase(key, run_key)) continue;
    if (ListHas(value, "true") || value == true ||
        (value.is_array() && std::count(value.begin(), value.end(), true) > 0)) {
      return Invalid(role, "trust-policy.json",
                     "the trust policy requires " + Quote(run_key) +
                         " to be absent, but the issuer always sets it",
                     path + ".Condition.Null." + key);
    }
    spellings.push_back(key);
  }
  for (const std::string& key : spellings) null_block.erase(key);
  null_block[run_key] = "false";
  return OkStatus();
}

// The AWS form of `source` (a policy of `kind`).
Result<Json> ToAwsDocument(const NamedPolicy& source, PolicyKind kind, std::string_view role,
                           std::string_view what) {
  Json document = Json::parse(source.json, nullptr, false);
  if (document.is_discarded() || !document.is_object() || !document.contains("Statement")) {
    return Invalid(role, what, "the stored policy text is not a policy document");
  }
  Json& statements = document["Statement"];
  const bool single = statements.is_object();
  if (single) statements = Json::array({statements});
  for (std::size_t i = 0; i < statements.size(); ++i) {
    const std::string path = "Statement[" + std::to_string(i) + "]";
    if (!statements[i].is_object()) continue;
    XROLE_RETURN_IF_ERROR(RewriteStatement(statements[i], kind, role, what, path));
    if (kind == PolicyKind::kTrust) {
      XROLE_RETURN_IF_ERROR(AdaptTrustStatement(statements[i], role, path));
    }
  }
  if (single) {
    Json first = statements[0];
    statements = std::move(first);
  }
  return document;
}

Json RevokeRunDocument(std::string_view run_id) {
  Json condition = {
      {"StringEquals",
       {{std::string(kPrincipalTagPrefix) + std::string(kAwsRunTag), std::string(run_id)}}}};
  return {{"Version", "2012-10-17"},
          {"Statement", Json::array({{{"Sid", "RevokeXroleRun"},
                                      {"Effect", "Deny"},
                                      {"Action", "*"},
                                      {"Resource", "*"},
                                      {"Condition", std::move(condition)}}})}};
}

Json RevokeIssuedBeforeDocument(std::string_view time) {
  return {{"Version", "2012-10-17"},
          {"Statement",
           Json::array({{{"Sid", "RevokeOlderSessions"},
                         {"Effect", "Deny"},
                         {"Action", "*"},
                         {"Resource", "*"},
                         {"Condition",
                          {{"DateLessThan", {{"aws:TokenIssueTime", std::string(time)}}}}}}})}};
}

// ---- the in-memory AWS form of one role ----------------------------------------------------

struct AwsDocument {
  AwsPolicyFile file;  // text filled by Finish()
  Json document;
  std::string description;  // for the README
};

struct AwsRole {
  const ExecutionRole* role = nullptr;
  std::string description;
  std::int64_t max_session_seconds = 0;
  std::vector<std::pair<std::string, std::string>> tags;  // sorted by key
  std::string boundary_name;                              // managed policy; "" without
  std::string boundary_arn;
  AwsDocument trust;
  std::vector<AwsDocument> inline_policies;
  std::optional<AwsDocument> boundary;
  std::vector<AwsDocument> guardrails;
  std::vector<AwsDocument> revocations;
  std::vector<std::string> notes;

  std::vector<const AwsDocument*> Documents() const {
    std::vector<const AwsDocument*> all = {&trust};
    for (const auto& d : inline_policies) all.push_back(&d);
    if (boundary) all.push_back(&*boundary);
    for (const auto& d : guardrails) all.push_back(&d);
    for (const auto& d : revocations) all.push_back(&d);
    return all;
  }
};

Result<std::vector<std::pair<std::string, std::string>>> RoleTags(const ExecutionRole& role) {
  std::map<std::string, std::string> tags;
  std::set<std::string> lower_keys;
  for (const auto& [key, value] : role.tags) {
    if (StartsWithIgnoreCase(key, kReservedTagPrefix)) {
      return Invalid(role.name, "tags",
                     "tag key " + Quote(key) +
                         " starts with `xrole-`, which is reserved on AWS "
                         "for the tags the export and the issuer set");
    }
    if (!IsAwsTagText(key) || !IsAwsTagText(value) || StartsWithIgnoreCase(key, "aws:")) {
      return Invalid(role.name, "tags",
                     "tag " + Quote(key) +
                         " is not a valid AWS tag: keys and values allow "
                         "letters, digits, spaces and `_ . : / = + - @`, and keys must not "
                         "start with `aws:`");
    }
    if (!lower_keys.insert(AsciiLower(key)).second) {
      return Invalid(role.name, "tags",
                     "tag keys differing only in case are one key on AWS: " + Quote(key));
    }
    tags[key] = value;
  }
  auto add = [&](const char* key, const std::string& value) {
    if (!value.empty()) tags[key] = value;
  };
  add("xrole-role-version", role.hash);
  add("xrole-owner", AwsTagValue(role.owner));
  add("xrole-environment", AwsTagValue(role.environment));
  add("xrole-objective", AwsTagValue(role.objective));
  add("xrole-review-by", role.review_by);
  add("xrole-max-session-seconds", std::to_string(role.max_session_seconds));
  if (role.approval_required) add("xrole-approval-required", "true");
  if (tags.size() > kRoleTagLimit) {
    return Invalid(role.name, "tags",
                   "with the export's `xrole-*` tags the role has " + std::to_string(tags.size()) +
                       " tags; IAM allows 50");
  }
  return std::vector<std::pair<std::string, std::string>>(tags.begin(), tags.end());
}

std::string GuardrailNote(const Guardrail& guardrail, std::string_view account) {
  const bool scp = guardrail.scope == GuardrailScope::kPrincipal;
  bool allows = false;
  for (const auto& st : guardrail.policy.policy.document().statements) {
    if (st.effect == policy::Effect::kAllow) allows = true;
  }
  std::string note = std::string(scp ? "SCP" : "RCP") + " " + Quote("xrole-" + guardrail.name) +
                     ": attach it in AWS Organizations to account " + std::string(account) +
                     " (or its OU); it binds every principal of the account, not only xrole "
                     "sessions, and never the management account or service-linked roles. ";
  if (allows) {
    note += "It allows, so it is an allow-list: at the level it is attached it replaces " +
            std::string(scp ? "`FullAWSAccess`" : "`RCPFullAWSAccess`") + ".";
  } else {
    note += "It only denies: keep " + std::string(scp ? "`FullAWSAccess`" : "`RCPFullAWSAccess`") +
            " attached beside it.";
  }
  return note;
}

Result<AwsRole> BuildAwsRole(const Catalog& catalog, const ExecutionRole& role) {
  AwsRole out;
  out.role = &role;
  std::string description = role.description;
  if (!role.objective.empty()) {
    description += (description.empty() ? "" : " ") + std::string("Objective: ") + role.objective;
  }
  out.description = AwsDescription(description);
  out.max_session_seconds = std::max(role.max_session_seconds, kAwsMinMaxSessionSeconds);
  XROLE_ASSIGN_OR_RETURN(out.tags, RoleTags(role));
  if (role.max_session_seconds < kAwsMinMaxSessionSeconds) {
    out.notes.push_back(
        "IAM's MaxSessionDuration is at least 1 hour: it is 3600 here, and the "
        "issuer must request `DurationSeconds` " +
        std::to_string(role.max_session_seconds) +
        " (tag `xrole-max-session-seconds`) to keep xrole's limit.");
  }
  if (role.approval_required) {
    out.notes.push_back(
        "xrole requires a human approval for this role; IAM has no equivalent. Only the issuer "
        "can enforce it: let nothing but the issuer hold the agents' credentials.");
  }

  XROLE_ASSIGN_OR_RETURN(out.trust.document,
                         ToAwsDocument(role.trust, PolicyKind::kTrust, role.name, "trust"));
  out.trust.file = {"trust-policy.json", "trust", "", PolicyKind::kTrust, ""};
  out.trust.description =
      "trust policy (`AssumeRolePolicyDocument`); allows `sts:TagSession` and "
      "`sts:SetSourceIdentity` and requires the `xrole-run` session tag";

  std::set<std::string> inline_names;
  std::size_t index = 0;
  for (const NamedPolicy& p : role.permissions) {
    std::string name = AwsPolicyName(p.name);
    if (name.empty()) name = "permissions-" + std::to_string(index);
    ++index;
    if (!inline_names.insert(AsciiLower(name)).second) {
      return Invalid(role.name, "permissions",
                     "policy " + Quote(p.name) + " becomes inline policy " + Quote(name) +
                         ", a name another of the role's policies also gets on AWS");
    }
    AwsDocument doc;
    doc.file = {"policy-" + name + ".json", "inline", name, PolicyKind::kIdentity, ""};
    XROLE_ASSIGN_OR_RETURN(doc.document,
                           ToAwsDocument(p, PolicyKind::kIdentity, role.name, doc.file.file));
    doc.description = "inline policy " + Quote(name) + " (from " + Quote(p.name) + ")";
    out.inline_policies.push_back(std::move(doc));
  }

  if (role.boundary) {
    out.boundary_name = role.name + "-boundary";
    out.boundary_arn =
        "arn:aws:iam::" + role.account + ":policy" + std::string(kBoundaryPath) + out.boundary_name;
    AwsDocument doc;
    doc.file = {"boundary.json", "boundary", out.boundary_name, PolicyKind::kBoundary, ""};
    XROLE_ASSIGN_OR_RETURN(doc.document, ToAwsDocument(*role.boundary, PolicyKind::kBoundary,
                                                       role.name, "boundary.json"));
    doc.description = "permissions boundary, managed policy " + Quote(out.boundary_arn);
    out.boundary = std::move(doc);
  }

  for (const auto& [name, guardrail] : catalog.guardrails) {
    const bool scp = guardrail.scope == GuardrailScope::kPrincipal;
    const PolicyKind kind = scp ? PolicyKind::kScp : PolicyKind::kRcp;
    AwsDocument doc;
    doc.file = {std::string(scp ? "scp-" : "rcp-") + name + ".json", scp ? "scp" : "rcp",
                "xrole-" + name, kind, ""};
    XROLE_ASSIGN_OR_RETURN(doc.document,
                           ToAwsDocument(guardrail.policy, kind, role.name, doc.file.file));
    doc.description = std::string(scp ? "service control policy" : "resource control policy") +
                      " from guardrail " + Quote(name);
    out.notes.push_back(GuardrailNote(guardrail, role.account));
    out.guardrails.push_back(std::move(doc));
  }

  AwsDocument revoke_run;
  revoke_run.file = {"revoke-run.json", "revocation", "xrole-revoke-run", PolicyKind::kIdentity,
                     ""};
  revoke_run.document = RevokeRunDocument(kAwsRunIdPlaceholder);
  revoke_run.description = "revokes one run's sessions: replace " + Quote(kAwsRunIdPlaceholder) +
                           " with the run id and attach as inline policy";
  AwsDocument revoke_example;
  revoke_example.file = {"revoke-run.example.json", "revocation",
                         "xrole-revoke-" + std::string(kRunIdExample), PolicyKind::kIdentity, ""};
  revoke_example.document = RevokeRunDocument(kRunIdExample);
  revoke_example.description = "the same for run " + Quote(kRunIdExample);
  AwsDocument revoke_older;
  revoke_older.file = {"revoke-issued-before.json", "revocation", "AWSRevokeOlderSessions",
                       PolicyKind::kIdentity, ""};
  revoke_older.document = RevokeIssuedBeforeDocument(kIssuedBeforeExample);
  revoke_older.description =
      "revokes every session of the role issued before a time (`aws:TokenIssueTime`); set the "
      "time to now";
  out.revocations.push_back(std::move(revoke_run));
  out.revocations.push_back(std::move(revoke_example));
  out.revocations.push_back(std::move(revoke_older));
  return out;
}

// Renders each document's text, lints it and checks IAM's size quotas.
Status Finish(AwsRole& aws, const AwsExportOptions& options) {
  const std::string& role = aws.role->name;
  std::size_t inline_size = 0;
  auto finish = [&](AwsDocument& doc) -> Status {
    doc.file.text = PrettyJson(doc.document);
    policy::LintOptions lint_options;
    lint_options.iam_create_policy_rules = true;
    for (const policy::Finding& f :
         policy::LintPolicy(doc.file.text, doc.file.kind, options.catalogue, lint_options)) {
      const std::string where = std::to_string(f.location.line) + ":" +
                                std::to_string(f.location.column) + ": " + f.code + ": " +
                                f.message + (f.path.empty() ? "" : " [" + f.path + "]");
      if (f.severity == policy::Severity::kError) {
        return Invalid(role, doc.file.file, "the linter rejects the exported document: " + where);
      }
      aws.notes.push_back("lint " + std::string(policy::SeverityName(f.severity)) + " in " +
                          doc.file.file + ": " + where);
    }
    auto parsed = policy::ParsePolicy(doc.file.text, doc.file.kind);
    if (!parsed.ok()) {
      return Invalid(role, doc.file.file, parsed.error().ToString());
    }
    const std::size_t size = parsed->document().size_without_whitespace;
    if (doc.file.use == "inline") inline_size += size;
    if (doc.file.use == "trust") {
      if (size > kTrustPolicyHardQuota) {
        return Invalid(role, doc.file.file,
                       "the trust policy is " + std::to_string(size) +
                           " characters without whitespace; IAM accepts at most 4,096");
      }
      if (size > kTrustPolicyDefaultQuota) {
        aws.notes.push_back("The trust policy is " + std::to_string(size) +
                            " characters: over IAM's default quota of 2,048; raise the "
                            "account's quota (at most 4,096) before deploying.");
      }
    }
    return OkStatus();
  };
  XROLE_RETURN_IF_ERROR(finish(aws.trust));
  for (auto& d : aws.inline_policies) XROLE_RETURN_IF_ERROR(finish(d));
  if (aws.boundary) XROLE_RETURN_IF_ERROR(finish(*aws.boundary));
  for (auto& d : aws.guardrails) XROLE_RETURN_IF_ERROR(finish(d));
  for (auto& d : aws.revocations) XROLE_RETURN_IF_ERROR(finish(d));
  if (inline_size > kInlinePoliciesQuota) {
    return Invalid(role, "permissions",
                   "the inline policies total " + std::to_string(inline_size) +
                       " characters without whitespace; IAM allows 10,240 per role");
  }
  return OkStatus();
}

// ---- renderers ------------------------------------------------------------------------------

Json RoleJson(const AwsRole& aws) {
  Json tags = Json::array();
  for (const auto& [key, value] : aws.tags) tags.push_back({{"Key", key}, {"Value", value}});
  Json role = {{"RoleName", aws.role->name},
               {"Path", std::string(kRolePath)},
               {"MaxSessionDuration", aws.max_session_seconds},
               {"Tags", std::move(tags)}};
  if (!aws.description.empty()) role["Description"] = aws.description;
  if (!aws.boundary_arn.empty()) role["PermissionsBoundary"] = aws.boundary_arn;
  return role;
}

// YAML: block style; every string double-quoted (JSON escapes are YAML escapes), keys plain
// when that cannot be misread.
bool IsPlainYamlKey(std::string_view key) {
  if (key.empty() || !((key[0] >= 'A' && key[0] <= 'Z') || (key[0] >= 'a' && key[0] <= 'z'))) {
    return false;
  }
  for (std::string_view word : {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}) {
    if (EqualsIgnoreCase(key, word)) return false;
  }
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

std::string YamlKey(const std::string& key) { return IsPlainYamlKey(key) ? key : Json(key).dump(); }

bool IsYamlInline(const Json& value) { return !value.is_structured() || value.empty(); }

std::string YamlScalar(const Json& value) {
  if (value.is_array()) return "[]";
  if (value.is_object()) return "{}";
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void EmitYaml(const Json& value, int indent, std::string& out);

// An array item or mapping value that is a collection, after "- " / "key:".
void EmitYamlItems(const Json& value, int indent, std::string& out) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      out += pad + YamlKey(key) + ":";
      if (IsYamlInline(item)) {
        out += " " + YamlScalar(item) + "\n";
      } else {
        out += "\n";
        EmitYaml(item, item.is_array() ? indent : indent + 2, out);
      }
    }
    return;
  }
  for (const Json& item : value) {
    out += pad + "-";
    if (IsYamlInline(item)) {
      out += " " + YamlScalar(item) + "\n";
    } else if (item.is_object()) {
      // The first key goes on the dash line; the rest line up under it.
      std::string nested;
      EmitYamlItems(item, indent + 2, nested);
      out += " " + nested.substr(static_cast<std::size_t>(indent) + 2);
    } else {
      out += "\n";
      EmitYaml(item, indent + 2, out);
    }
  }
}

void EmitYaml(const Json& value, int indent, std::string& out) {
  if (IsYamlInline(value)) {
    out += std::string(static_cast<std::size_t>(indent), ' ') + YamlScalar(value) + "\n";
    return;
  }
  EmitYamlItems(value, indent, out);
}

std::string CloudFormationYaml(const AwsRole& aws) {
  const ExecutionRole& role = *aws.role;
  Json policies = Json::array();
  for (const AwsDocument& d : aws.inline_policies) {
    policies.push_back({{"PolicyName", d.file.aws_name}, {"PolicyDocument", d.document}});
  }
  Json tags = Json::array();
  for (const auto& [key, value] : aws.tags) tags.push_back({{"Key", key}, {"Value", value}});
  Json properties = {{"RoleName", role.name},
                     {"Path", std::string(kRolePath)},
                     {"MaxSessionDuration", aws.max_session_seconds},
                     {"AssumeRolePolicyDocument", aws.trust.document},
                     {"Tags", std::move(tags)}};
  if (!aws.description.empty()) properties["Description"] = aws.description;
  if (!policies.empty()) properties["Policies"] = std::move(policies);
  Json resources = Json::object();
  if (aws.boundary) {
    properties["PermissionsBoundary"] = {{"Ref", "Boundary"}};
    resources["Boundary"] = {
        {"Type", "AWS::IAM::ManagedPolicy"},
        {"Properties",
         {{"ManagedPolicyName", aws.boundary_name},
          {"Path", std::string(kBoundaryPath)},
          {"Description",
           AwsDescription("Permissions boundary of the xrole execution role " + role.name)},
          {"PolicyDocument", aws.boundary->document}}}};
  }
  resources["Role"] = {{"Type", "AWS::IAM::Role"}, {"Properties", std::move(properties)}};
  Json tpl = {
      {"AWSTemplateFormatVersion", "2010-09-09"},
      {"Description", "xrole execution role " + role.name + " (generated by xrole export aws)"},
      {"Resources", std::move(resources)},
      {"Outputs",
       {{"RoleArn",
         {{"Description", "ARN of the role"},
          {"Value", {{"Fn::GetAtt", Json::array({"Role", "Arn"})}}}}}}}};
  std::string out = "# Generated by `xrole export aws` from execution role " + role.name +
                    ". Re-export instead of editing.\n";
  EmitYaml(tpl, 0, out);
  return out;
}

// HCL (Terraform), in `terraform fmt`'s canonical layout: the `=` of consecutive one-line
// attributes line up; multi-line values break the run.
std::string HclString(std::string_view s) {
  // JSON's escapes are HCL's but for \b and \f; `${` and `%{` start templates in HCL.
  const std::string escaped =
      Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string out;
  out.reserve(escaped.size());
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    const char next = i + 1 < escaped.size() ? escaped[i + 1] : '\0';
    if (c == '\\') {
      out += next == 'b' ? "\\u0008" : next == 'f' ? "\\u000c" : std::string{c, next};
      ++i;
    } else if ((c == '$' || c == '%') && next == '{') {
      out += c;
      out += c;  // `$${` and `%%{` are the literal `${` and `%{`
    } else {
      out += c;
    }
  }
  return out;
}

std::string HclValue(const Json& value, int indent);

struct HclAttribute {
  std::string name;   // already quoted when it must be
  std::string value;  // rendered; may span lines
};

std::string HclAttributes(const std::vector<HclAttribute>& attributes, int indent) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  std::string out;
  std::size_t i = 0;
  while (i < attributes.size()) {
    if (attributes[i].value.find('\n') != std::string::npos) {
      out += pad + attributes[i].name + " = " + attributes[i].value + "\n";
      ++i;
      continue;
    }
    std::size_t end = i;
    std::size_t width = 0;
    while (end < attributes.size() && attributes[end].value.find('\n') == std::string::npos) {
      width = std::max(width, CodePoints(attributes[end].name));
      ++end;
    }
    for (; i < end; ++i) {
      out += pad + attributes[i].name +
             std::string(width - CodePoints(attributes[i].name) + 1, ' ') + "= " +
             attributes[i].value + "\n";
    }
  }
  return out;
}

std::string HclValue(const Json& value, int indent) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  if (value.is_string()) return HclString(value.get<std::string>());
  if (value.is_object()) {
    if (value.empty()) return "{}";
    std::vector<HclAttribute> attributes;
    for (const auto& [key, item] : value.items()) {
      attributes.push_back({HclString(key), HclValue(item, indent + 2)});
    }
    return "{\n" + HclAttributes(attributes, indent + 2) + pad + "}";
  }
  if (value.is_array()) {
    if (value.empty()) return "[]";
    const bool flat =
        std::all_of(value.begin(), value.end(), [](const Json& v) { return !v.is_structured(); });
    std::string out = "[";
    if (flat) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        out += (i ? ", " : "") + HclValue(value[i], indent);
      }
      return out + "]";
    }
    out += "\n";
    for (const Json& item : value) out += pad + "  " + HclValue(item, indent + 2) + ",\n";
    return out + pad + "]";
  }
  return value.dump();  // numbers, booleans, null
}

std::string HclIdentifier(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    out += ok ? c : '_';
  }
  return out;
}

std::string TerraformModule(const AwsRole& aws) {
  const ExecutionRole& role = *aws.role;
  std::string out = "# Generated by `xrole export aws` from execution role " + role.name +
                    ". Re-export instead of editing.\n";
  out +=
      "terraform {\n  required_providers {\n    aws = {\n      source = \"hashicorp/aws\"\n"
      "    }\n  }\n}\n";
  auto block = [&](const std::string& header, const std::vector<HclAttribute>& attributes) {
    out += "\n" + header + " {\n" + HclAttributes(attributes, 2) + "}\n";
  };
  if (aws.boundary) {
    block("resource \"aws_iam_policy\" \"boundary\"",
          {{"name", HclString(aws.boundary_name)},
           {"path", HclString(kBoundaryPath)},
           {"description", HclString(AwsDescription(
                               "Permissions boundary of the xrole execution role " + role.name))},
           {"policy", "jsonencode(" + HclValue(aws.boundary->document, 2) + ")"}});
  }
  Json tags = Json::object();
  for (const auto& [key, value] : aws.tags) tags[key] = value;
  std::vector<HclAttribute> role_attributes = {
      {"name", HclString(role.name)},
      {"path", HclString(kRolePath)},
  };
  if (!aws.description.empty()) {
    role_attributes.push_back({"description", HclString(aws.description)});
  }
  role_attributes.push_back({"max_session_duration", std::to_string(aws.max_session_seconds)});
  if (aws.boundary) {
    role_attributes.push_back({"permissions_boundary", "aws_iam_policy.boundary.arn"});
  }
  role_attributes.push_back(
      {"assume_role_policy", "jsonencode(" + HclValue(aws.trust.document, 2) + ")"});
  role_attributes.push_back({"tags", HclValue(tags, 2)});
  block("resource \"aws_iam_role\" \"role\"", role_attributes);

  std::set<std::string> used;
  for (std::size_t i = 0; i < aws.inline_policies.size(); ++i) {
    const AwsDocument& d = aws.inline_policies[i];
    std::string id = "inline_" + HclIdentifier(d.file.aws_name);
    if (!used.insert(id).second) id += "_" + std::to_string(i);
    used.insert(id);
    block("resource \"aws_iam_role_policy\" " + HclString(id),
          {{"name", HclString(d.file.aws_name)},
           {"role", "aws_iam_role.role.id"},
           {"policy", "jsonencode(" + HclValue(d.document, 2) + ")"}});
  }
  block("output \"role_arn\"", {{"value", "aws_iam_role.role.arn"}});
  return out;
}

std::string ReadmeMarkdown(const std::vector<AwsRole>& roles, const AwsExportOptions& options) {
  std::string out =
      "# xrole execution roles for AWS IAM\n\n"
      "Generated by `xrole export aws`; re-export instead of editing. How to deploy these files, "
      "how the issuer tags sessions and how to revoke a run: docs/aws-export.md in the xrole "
      "source tree.\n\n"
      "Sessions must be created by the issuer: it calls `sts:AssumeRole` with the session tag "
      "`xrole-run` (the run id) and the other `xrole-*` tags listed there, and a "
      "source identity. Tag keys starting `xrole-` are reserved.\n";
  for (const AwsRole& aws : roles) {
    const ExecutionRole& role = *aws.role;
    out += "\n## " + role.name + "\n\n";
    out += "Role " + Quote(role.Arn()) + ", owner " + Quote(role.owner.empty() ? "-" : role.owner) +
           ".\n\n";
    out += "| File | What it is |\n| --- | --- |\n";
    if (options.json) {
      out += "| " + Quote(role.name + "/role.json") +
             " | `aws iam create-role --cli-input-json` input (with the trust policy file) |\n";
      for (const AwsDocument* d : aws.Documents()) {
        out += "| " + Quote(role.name + "/" + d->file.file) + " | " + d->description + " |\n";
      }
    }
    if (options.cloudformation) {
      out += "| " + Quote(role.name + "/cloudformation.yaml") +
             " | CloudFormation template: the role, its inline policies" +
             (aws.boundary ? ", its boundary" : "") + " |\n";
    }
    if (options.terraform) {
      out += "| " + Quote(role.name + "/main.tf") + " | Terraform module: the same resources |\n";
    }
    if (!aws.notes.empty()) {
      out += "\nNotes:\n\n";
      for (const std::string& note : aws.notes) out += "- " + note + "\n";
    }
  }
  return out;
}

Json IndexJson(const std::vector<AwsRole>& roles, const AwsExportOptions& options) {
  Json list = Json::array();
  for (const AwsRole& aws : roles) {
    Json files = Json::array();
    if (options.json) {
      files.push_back({{"path", "role.json"}, {"use", "role"}});
      for (const AwsDocument* d : aws.Documents()) {
        files.push_back({{"path", d->file.file},
                         {"use", d->file.use},
                         {"kind", std::string(policy::PolicyKindName(d->file.kind))},
                         {"awsName", d->file.aws_name}});
      }
    }
    if (options.cloudformation) {
      files.push_back({{"path", "cloudformation.yaml"}, {"use", "cloudformation"}});
    }
    if (options.terraform) files.push_back({{"path", "main.tf"}, {"use", "terraform"}});
    list.push_back({{"name", aws.role->name},
                    {"account", aws.role->account},
                    {"arn", aws.role->Arn()},
                    {"files", std::move(files)}});
  }
  return {{"roles", std::move(list)}};
}

}  // namespace

std::string AwsConditionKey(std::string_view key, PolicyKind kind) {
  std::optional<std::string> tag = MappedTag(key, kind);
  if (!tag) return std::string(key);
  return std::string(kind == PolicyKind::kTrust ? kRequestTagPrefix : kPrincipalTagPrefix) + *tag;
}

policy::Context AwsRequestContext(const policy::Context& context, PolicyKind kind) {
  const bool trust = kind == PolicyKind::kTrust;
  policy::Context out;
  std::vector<std::string> issued_tags;
  for (const auto& [key, value] : context.values()) {
    if (!StartsWithIgnoreCase(key, "xrole:")) {
      if (!(trust && key == "aws:tagkeys")) out.Set(key, value);
      continue;
    }
    std::optional<std::string> tag = MappedTag(key, kind);
    if (!tag) continue;  // never set on AWS
    out.Set(AwsConditionKey(key, kind), value);
    issued_tags.push_back(*tag);
  }
  if (trust) {
    std::vector<std::string> keys;
    if (const policy::ContextValue* requested = context.Find("aws:tagkeys")) {
      keys = requested->values;
    }
    keys.insert(keys.end(), issued_tags.begin(), issued_tags.end());
    if (!keys.empty()) out.Set("aws:TagKeys", policy::ContextValue::List(std::move(keys)));
  }
  const std::string source_key = trust ? "sts:sourceidentity" : "aws:sourceidentity";
  if (out.Find(source_key) == nullptr) {
    const policy::ContextValue* who = context.Find("xrole:onbehalfof");
    if (who == nullptr) who = context.Find("xrole:agent");
    if (who != nullptr) out.Set(source_key, *who);
  }
  return out;
}

Result<AwsExport> ExportAws(const Catalog& catalog, const AwsExportOptions& options) {
  std::vector<const ExecutionRole*> selected;
  if (options.roles.empty()) {
    for (const auto& [name, role] : catalog.roles) selected.push_back(&role);
  } else {
    std::set<std::string> names(options.roles.begin(), options.roles.end());
    for (const std::string& name : names) {
      auto it = catalog.roles.find(name);
      if (it == catalog.roles.end()) {
        std::string known;
        for (const auto& [n, r] : catalog.roles) known += (known.empty() ? "" : ", ") + n;
        return Error(ErrorCode::kNotFound, "unknown execution role " + Quote(name) + " (known: " +
                                               (known.empty() ? "none" : known) + ")");
      }
      selected.push_back(&it->second);
    }
  }
  if (selected.empty()) return Error(ErrorCode::kNotFound, "the files define no execution role");

  std::vector<AwsRole> roles;
  for (const ExecutionRole* role : selected) {
    XROLE_ASSIGN_OR_RETURN(AwsRole aws, BuildAwsRole(catalog, *role));
    XROLE_RETURN_IF_ERROR(Finish(aws, options));
    roles.push_back(std::move(aws));
  }

  AwsExport result;
  std::map<std::string, std::string> files;
  for (const AwsRole& aws : roles) {
    const std::string dir = aws.role->name + "/";
    AwsRoleExport summary;
    summary.role = aws.role->name;
    summary.notes = aws.notes;
    for (const AwsDocument* d : aws.Documents()) summary.policies.push_back(d->file);
    result.roles.push_back(std::move(summary));
    if (options.json) {
      files[dir + "role.json"] = PrettyJson(RoleJson(aws));
      for (const AwsDocument* d : aws.Documents()) files[dir + d->file.file] = d->file.text;
    }
    if (options.cloudformation) files[dir + "cloudformation.yaml"] = CloudFormationYaml(aws);
    if (options.terraform) files[dir + "main.tf"] = TerraformModule(aws);
  }
  files["README.md"] = ReadmeMarkdown(roles, options);
  files["index.json"] = PrettyJson(IndexJson(roles, options));
  for (auto& [path, content] : files) result.files.push_back({path, std::move(content)});
  return result;
}

Status WriteAwsExport(const AwsExport& exported, const std::string& out_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path root(out_dir);
  std::map<fs::path, std::set<std::string>> written;  // directory -> file names
  for (const ExportedFile& file : exported.files) {
    const fs::path path = root / fs::path(file.path);
    written[path.parent_path()].insert(path.filename().string());
  }
  for (const auto& [dir, names] : written) {
    fs::create_directories(dir, ec);
    if (ec) {
      return Error(ErrorCode::kUnavailable,
                   "cannot create `" + dir.string() + "`: " + ec.message());
    }
    if (dir == root) continue;
    std::vector<fs::path> stale;
    fs::directory_iterator it(dir, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const fs::path& entry = it->path();
      const std::string ext = entry.extension().string();
      const bool generated = ext == ".json" || ext == ".yaml" || ext == ".tf";
      std::error_code type_ec;
      if (generated && it->is_regular_file(type_ec) && !names.count(entry.filename().string())) {
        stale.push_back(entry);
      }
    }
    if (ec) {
      return Error(ErrorCode::kUnavailable, "cannot list `" + dir.string() + "`: " + ec.message());
    }
    for (const fs::path& path : stale) {
      if (!fs::remove(path, ec) && ec) {
        return Error(ErrorCode::kUnavailable,
                     "cannot remove `" + path.string() + "`: " + ec.message());
      }
    }
  }
  for (const ExportedFile& file : exported.files) {
    const fs::path path = root / fs::path(file.path);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << file.content;
    out.close();
    if (!out) return Error(ErrorCode::kUnavailable, "cannot write `" + path.string() + "`");
  }
  return OkStatus();
}

}  // namespace xrole::session
