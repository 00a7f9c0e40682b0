#include "policy/eval_case.h"

#include <set>

#include "common/strings.h"
#include "policy/parser.h"

namespace xrole::policy {
namespace {

using json::Kind;
using json::Value;

Error CaseError(std::string message, std::string path, const Value& at) {
  return Error(ErrorCode::kInvalidArgument, std::move(message), std::move(path), at.location());
}

Error WrongType(const std::string& path, const Value& v, std::string_view expected) {
  return CaseError(
      "expected " + std::string(expected) + ", found " + std::string(json::KindName(v.kind())),
      path, v);
}

// POLICY: a document, or {"name": "...", "policy": DOCUMENT}.
Result<Policy> ReadPolicy(const Value& v, PolicyKind kind, const std::string& path) {
  if (!v.is_object()) return WrongType(path, v, "a policy document object");
  const Value* document = &v;
  std::string document_path = path;
  std::string name;
  if (v.Find("Statement") == nullptr && v.Find("policy") != nullptr) {
    for (const json::Member& m : v.members()) {
      if (m.name != "name" && m.name != "policy") {
        return CaseError("unknown member `" + m.name + "` in a named policy",
                         JoinPath(path, m.name), *m.value);
      }
    }
    if (const Value* n = v.Find("name")) {
      if (!n->is_string()) return WrongType(JoinPath(path, "name"), *n, "a string");
      name = n->text();
    }
    document = v.Find("policy");
    document_path = JoinPath(path, "policy");
  }
  XROLE_ASSIGN_OR_RETURN(auto parsed, ParseDocument(*document, kind, document_path));
  return Policy(std::move(parsed), std::move(name));
}

Result<std::vector<Policy>> ReadPolicyList(const Value& v, PolicyKind kind,
                                           const std::string& path) {
  std::vector<Policy> out;
  if (!v.is_array()) return WrongType(path, v, "an array of policies");
  for (std::size_t i = 0; i < v.items().size(); ++i) {
    XROLE_ASSIGN_OR_RETURN(Policy p,
                           ReadPolicy(*v.items()[i], kind, path + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(p));
  }
  return out;
}

// LEVEL: a document, an array of POLICY, or {"policies": [POLICY, ...]}.
Result<std::vector<Policy>> ReadLevel(const Value& v, PolicyKind kind, const std::string& path) {
  if (v.is_array()) return ReadPolicyList(v, kind, path);
  if (v.is_object() && v.Find("policies") != nullptr && v.Find("Statement") == nullptr) {
    return ReadPolicyList(*v.Find("policies"), kind, JoinPath(path, "policies"));
  }
  XROLE_ASSIGN_OR_RETURN(Policy p, ReadPolicy(v, kind, path));
  return std::vector<Policy>{std::move(p)};
}

Result<std::vector<std::vector<Policy>>> ReadLevels(const Value& v, PolicyKind kind,
                                                    const std::string& path) {
  if (!v.is_array()) return WrongType(path, v, "an array of organisation levels");
  std::vector<std::vector<Policy>> levels;
  for (std::size_t i = 0; i < v.items().size(); ++i) {
    XROLE_ASSIGN_OR_RETURN(auto level,
                           ReadLevel(*v.items()[i], kind, path + "[" + std::to_string(i) + "]"));
    levels.push_back(std::move(level));
  }
  return levels;
}

Result<std::string> ReadScalarText(const Value& v, const std::string& path) {
  if (v.is_string() || v.is_number() || v.is_bool()) return v.text();
  return WrongType(path, v, "a string, number or boolean");
}

Status ReadRequest(const Value& v, Request* request) {
  const std::string path = "request";
  if (!v.is_object()) return WrongType(path, v, "an object");
  for (const json::Member& m : v.members()) {
    const std::string member_path = JoinPath(path, m.name);
    const Value& value = *m.value;
    if (m.name == "principal" || m.name == "action" || m.name == "resource" ||
        m.name == "resourceAccount") {
      if (!value.is_string()) return WrongType(member_path, value, "a string");
      if (m.name == "principal") request->principal = value.text();
      if (m.name == "action") request->action = value.text();
      if (m.name == "resource") request->resource = value.text();
      if (m.name == "resourceAccount") request->resource_account = value.text();
    } else if (m.name == "context") {
      if (!value.is_object()) return WrongType(member_path, value, "an object");
      for (const json::Member& key : value.members()) {
        const std::string key_path = JoinPath(member_path, key.name);
        const Value& kv = *key.value;
        if (kv.is_array()) {
          std::vector<std::string> items;
          for (std::size_t i = 0; i < kv.items().size(); ++i) {
            XROLE_ASSIGN_OR_RETURN(
                std::string text,
                ReadScalarText(*kv.items()[i], key_path + "[" + std::to_string(i) + "]"));
            items.push_back(std::move(text));
          }
          request->context.Set(key.name, ContextValue::List(std::move(items)));
        } else {
          XROLE_ASSIGN_OR_RETURN(std::string text, ReadScalarText(kv, key_path));
          request->context.Set(key.name, ContextValue::Scalar(std::move(text)));
        }
      }
    } else {
      return CaseError("unknown member `" + m.name + "`", member_path, value);
    }
  }
  if (request->action.empty()) {
    return CaseError("missing member `action`", JoinPath(path, "action"), v);
  }
  return OkStatus();
}

// The resource policy of an sts:* request on a role is that role's trust policy.
PolicyKind ResourcePolicyKind(const Request& request) {
  if (StartsWithIgnoreCase(request.action, "sts:") &&
      request.resource.find(":role/") != std::string::npos &&
      StartsWithIgnoreCase(request.resource, "arn:")) {
    return PolicyKind::kTrust;
  }
  return PolicyKind::kResource;
}

void AppendReason(std::string& out, const Reason& r) {
  out += "{\"policy\":";
  json::AppendQuoted(out, r.policy);
  if (!r.name.empty()) {
    out += ",\"name\":";
    json::AppendQuoted(out, r.name);
  }
  out += ",\"statement\":" + std::to_string(r.statement);
  if (!r.sid.empty()) {
    out += ",\"sid\":";
    json::AppendQuoted(out, r.sid);
  }
  out += ",\"effect\":\"";
  out += EffectName(r.effect);
  out += "\"}";
}

void AppendId(std::string& out, std::string_view id, bool has_id) {
  if (!has_id) return;
  out += "\"id\":";
  json::AppendQuoted(out, id);
  out += ',';
}

}  // namespace

std::string CaseId(const Value& root, bool* has_id) {
  *has_id = false;
  if (!root.is_object()) return "";
  const Value* id = root.Find("id");
  if (id == nullptr || !(id->is_string() || id->is_number())) return "";
  *has_id = true;
  return id->text();
}

Result<EvalCase> ParseEvalCase(const Value& root, bool parse_policies) {
  EvalCase c;
  if (!root.is_object()) return WrongType("", root, "a case object");
  c.id = CaseId(root, &c.has_id);
  if (root.Find("id") != nullptr && !c.has_id) {
    return WrongType("id", *root.Find("id"), "a string or number");
  }
  // The request comes first: it decides how the resource policy is read.
  const Value* request = root.Find("request");
  if (request == nullptr) return CaseError("missing member `request`", "request", root);
  XROLE_RETURN_IF_ERROR(ReadRequest(*request, &c.request));

  static const std::set<std::string, std::less<>> kMetadata = {"id", "request", "name",
                                                               "description", "expect"};
  for (const json::Member& m : root.members()) {
    const Value& v = *m.value;
    static const std::set<std::string, std::less<>> kPolicyMembers = {"identityPolicies",
                                                                      "permissionBoundaries",
                                                                      "sessionPolicy",
                                                                      "resourcePolicy",
                                                                      "scps",
                                                                      "rcps"};
    if (!parse_policies && kPolicyMembers.count(m.name) != 0) {
      // fall through to the key below without reading the documents
    } else if (m.name == "identityPolicies") {
      XROLE_ASSIGN_OR_RETURN(c.policies.identity, ReadPolicyList(v, PolicyKind::kIdentity, m.name));
    } else if (m.name == "permissionBoundaries") {
      XROLE_ASSIGN_OR_RETURN(c.policies.boundaries,
                             ReadPolicyList(v, PolicyKind::kBoundary, m.name));
    } else if (m.name == "sessionPolicy") {
      if (v.is_array()) {
        XROLE_ASSIGN_OR_RETURN(c.policies.session, ReadPolicyList(v, PolicyKind::kSession, m.name));
      } else {
        XROLE_ASSIGN_OR_RETURN(Policy p, ReadPolicy(v, PolicyKind::kSession, m.name));
        c.policies.session.push_back(std::move(p));
      }
    } else if (m.name == "resourcePolicy") {
      XROLE_ASSIGN_OR_RETURN(Policy p, ReadPolicy(v, ResourcePolicyKind(c.request), m.name));
      c.policies.resource = std::move(p);
    } else if (m.name == "scps") {
      XROLE_ASSIGN_OR_RETURN(c.policies.scps, ReadLevels(v, PolicyKind::kScp, m.name));
    } else if (m.name == "rcps") {
      XROLE_ASSIGN_OR_RETURN(c.policies.rcps, ReadLevels(v, PolicyKind::kRcp, m.name));
    } else if (kMetadata.count(m.name) == 0) {
      return CaseError("unknown member `" + m.name + "`", m.name, v);
    } else {
      continue;
    }
    c.policy_key += m.name;
    if (m.name == "resourcePolicy") c.policy_key += PolicyKindName(ResourcePolicyKind(c.request));
    c.policy_key += '=';
    c.policy_key += v.ToJson();
    c.policy_key += '\n';
  }
  return c;
}

std::string FormatResult(std::string_view id, bool has_id, const EvaluationResult& result) {
  std::string out = "{";
  AppendId(out, id, has_id);
  out += "\"decision\":\"";
  out += DecisionName(result.decision);
  out += "\",\"reasons\":[";
  for (std::size_t i = 0; i < result.reasons.size(); ++i) {
    if (i > 0) out += ',';
    AppendReason(out, result.reasons[i]);
  }
  out += ']';
  if (result.decision == Decision::kImplicitlyDenied) {
    out += ",\"deniedBy\":\"";
    out += LayerName(result.denied_by);
    out += '"';
  }
  if (!result.explanation.empty()) {
    out += ",\"explanation\":[";
    for (std::size_t i = 0; i < result.explanation.size(); ++i) {
      if (i > 0) out += ',';
      json::AppendQuoted(out, result.explanation[i]);
    }
    out += ']';
  }
  out += '}';
  return out;
}

std::string FormatError(std::string_view id, bool has_id, const Error& error) {
  std::string out = "{";
  AppendId(out, id, has_id);
  out += "\"error\":{\"code\":\"";
  out += ErrorCodeName(error.code());
  out += "\",\"message\":";
  json::AppendQuoted(out, error.message());
  if (!error.path().empty()) {
    out += ",\"path\":";
    json::AppendQuoted(out, error.path());
  }
  if (error.location().known()) {
    out += ",\"line\":" + std::to_string(error.location().line);
    out += ",\"column\":" + std::to_string(error.location().column);
  }
  out += "}}";
  return out;
}

}  // namespace xrole::policy
