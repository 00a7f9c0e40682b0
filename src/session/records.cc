#include "session/records.h"

#include <ctime>
#include <nlohmann/json.hpp>
#include <utility>

namespace xrole::session {
namespace {

using nlohmann::json;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Reads `doc` as a JSON object, converting library exceptions into an Error.
template <typename T, typename Fill>
Result<T> Decode(std::string_view text, std::string_view what, Fill fill) {
  try {
    json doc = json::parse(text);
    if (!doc.is_object()) {
      return Error(ErrorCode::kInternal, "stored " + std::string(what) + " is not an object");
    }
    T value;
    fill(doc, value);
    return value;
  } catch (const json::exception& e) {
    return Error(ErrorCode::kInternal,
                 "stored " + std::string(what) + " is unreadable: " + std::string(e.what()));
  }
}

std::string Str(const json& doc, const char* key) {
  auto it = doc.find(key);
  return it == doc.end() || it->is_null() ? std::string() : it->get<std::string>();
}
std::int64_t Int(const json& doc, const char* key) {
  auto it = doc.find(key);
  return it == doc.end() || it->is_null() ? 0 : it->get<std::int64_t>();
}
std::map<std::string, std::string> Map(const json& doc, const char* key) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return {};
  return it->get<std::map<std::string, std::string>>();
}

}  // namespace

void WriteReasons(xrole::json::Writer& writer, const std::vector<policy::Reason>& reasons) {
  writer.BeginArray();
  for (const auto& r : reasons) {
    writer.BeginObject()
        .Field("effect", policy::EffectName(r.effect))
        .FieldIfSet("name", r.name)
        .Field("policy", r.policy)
        .FieldIfSet("sid", r.sid)
        .Field("statement", r.statement)
        .EndObject();
  }
  writer.EndArray();
}

nlohmann::json ReasonsJson(const std::vector<policy::Reason>& reasons) {
  xrole::json::Writer writer;
  WriteReasons(writer, reasons);
  return nlohmann::json::parse(writer.text(), nullptr, false);
}

nlohmann::json OffboardJson(const OffboardResult& result) {
  const std::pair<const char*, const std::vector<std::string>*> lists[] = {
      {"revokedSessions", &result.revoked_sessions},
      {"endedRuns", &result.ended_runs},
      {"retiredKeys", &result.retired_keys},
      {"cancelledApprovals", &result.cancelled_approvals},
      {"rewrittenRoles", &result.rewritten_roles}};
  nlohmann::json out = {{"kind", result.kind},
                        {"name", result.name},
                        {"deleted", result.object},
                        {"reason", result.reason}};
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& [key, ids] : lists) {
    out[key] = *ids;
    counts[key] = ids->size();
  }
  out["counts"] = std::move(counts);
  return out;
}

std::string Iso8601(std::int64_t epoch_seconds) {
  std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string EncodeRun(const Run& run) {
  return Dump({{"id", run.id},
               {"workflow", run.workflow},
               {"agent", run.agent},
               {"onBehalfOf", run.on_behalf_of},
               {"tags", run.tags},
               {"startedAt", run.started_at},
               {"expiresAt", run.expires_at},
               {"endedAt", run.ended_at},
               {"status", run.status},
               {"endedBy", run.ended_by},
               {"accessKeyId", run.access_key_id}});
}

Result<Run> DecodeRun(std::string_view text) {
  return Decode<Run>(text, "run", [](const json& d, Run& r) {
    r.id = Str(d, "id");
    r.workflow = Str(d, "workflow");
    r.agent = Str(d, "agent");
    r.on_behalf_of = Str(d, "onBehalfOf");
    r.tags = Map(d, "tags");
    r.started_at = Int(d, "startedAt");
    r.expires_at = Int(d, "expiresAt");
    r.ended_at = Int(d, "endedAt");
    r.status = Str(d, "status");
    r.ended_by = Str(d, "endedBy");
    r.access_key_id = Str(d, "accessKeyId");
  });
}

std::string EncodeSession(const SessionRecord& s) {
  return Dump({{"id", s.id},
               {"role", s.role},
               {"roleArn", s.role_arn},
               {"assumedRoleArn", s.assumed_role_arn},
               {"runId", s.run_id},
               {"agent", s.agent},
               {"onBehalfOf", s.on_behalf_of},
               {"sessionName", s.session_name},
               {"sourceIdentity", s.source_identity},
               {"sessionPolicy", s.session_policy},
               {"sessionPolicyHash", s.session_policy_hash},
               {"policyArns", s.policy_arns},
               {"tags", s.tags},
               {"transitiveTagKeys", s.transitive_tag_keys},
               {"parentSessionId", s.parent_session_id},
               {"chained", s.chained},
               {"issuedAt", s.issued_at},
               {"expiresAt", s.expires_at},
               {"accessKeyId", s.access_key_id},
               {"keyId", s.key_id},
               {"policyHash", s.policy_hash},
               {"status", s.status},
               {"revokedAt", s.revoked_at},
               {"revokeReason", s.revoke_reason}});
}

Result<SessionRecord> DecodeSession(std::string_view text) {
  return Decode<SessionRecord>(text, "session", [](const json& d, SessionRecord& s) {
    s.id = Str(d, "id");
    s.role = Str(d, "role");
    s.role_arn = Str(d, "roleArn");
    s.assumed_role_arn = Str(d, "assumedRoleArn");
    s.run_id = Str(d, "runId");
    s.agent = Str(d, "agent");
    s.on_behalf_of = Str(d, "onBehalfOf");
    s.session_name = Str(d, "sessionName");
    s.source_identity = Str(d, "sourceIdentity");
    s.session_policy = Str(d, "sessionPolicy");
    s.session_policy_hash = Str(d, "sessionPolicyHash");
    if (auto arns = d.find("policyArns"); arns != d.end() && arns->is_array()) {
      s.policy_arns = arns->get<std::vector<std::string>>();
    }
    s.tags = Map(d, "tags");
    if (auto keys = d.find("transitiveTagKeys"); keys != d.end() && keys->is_array()) {
      s.transitive_tag_keys = keys->get<std::vector<std::string>>();
    }
    s.parent_session_id = Str(d, "parentSessionId");
    s.chained = d.value("chained", false);
    s.issued_at = Int(d, "issuedAt");
    s.expires_at = Int(d, "expiresAt");
    s.access_key_id = Str(d, "accessKeyId");
    s.key_id = Str(d, "keyId");
    s.policy_hash = Str(d, "policyHash");
    s.status = Str(d, "status");
    s.revoked_at = Int(d, "revokedAt");
    s.revoke_reason = Str(d, "revokeReason");
  });
}

std::string EncodeApproval(const Approval& a) {
  return Dump({{"id", a.id},
               {"role", a.role},
               {"runId", a.run_id},
               {"agent", a.agent},
               {"sessionName", a.session_name},
               {"durationSeconds", a.duration_seconds},
               {"sessionPolicyHash", a.session_policy_hash},
               {"requestHash", a.request_hash},
               {"parentSessionId", a.parent_session_id},
               {"requestedBy", a.requested_by},
               {"requestedAt", a.requested_at},
               {"expiresAt", a.expires_at},
               {"status", a.status},
               {"decidedBy", a.decided_by},
               {"decidedAt", a.decided_at},
               {"reason", a.reason}});
}

Result<Approval> DecodeApproval(std::string_view text) {
  return Decode<Approval>(text, "approval", [](const json& d, Approval& a) {
    a.id = Str(d, "id");
    a.role = Str(d, "role");
    a.run_id = Str(d, "runId");
    a.agent = Str(d, "agent");
    a.session_name = Str(d, "sessionName");
    a.duration_seconds = Int(d, "durationSeconds");
    a.session_policy_hash = Str(d, "sessionPolicyHash");
    a.request_hash = Str(d, "requestHash");
    a.parent_session_id = Str(d, "parentSessionId");
    a.requested_by = Str(d, "requestedBy");
    a.requested_at = Int(d, "requestedAt");
    a.expires_at = Int(d, "expiresAt");
    a.status = Str(d, "status");
    a.decided_by = Str(d, "decidedBy");
    a.decided_at = Int(d, "decidedAt");
    a.reason = Str(d, "reason");
  });
}

std::string EncodeAccessKey(const AccessKeyRecord& k) {
  return Dump({{"id", k.access_key_id},
               {"kind", k.principal_kind},
               {"principal", k.principal},
               {"runId", k.run_id},
               {"createdAt", k.created_at},
               {"status", k.status}});
}

Result<AccessKeyRecord> DecodeAccessKey(std::string_view text) {
  return Decode<AccessKeyRecord>(text, "access key", [](const json& d, AccessKeyRecord& k) {
    k.access_key_id = Str(d, "id");
    k.principal_kind = Str(d, "kind");
    k.principal = Str(d, "principal");
    k.run_id = Str(d, "runId");
    k.created_at = Int(d, "createdAt");
    k.status = Str(d, "status");
  });
}

}  // namespace xrole::session
