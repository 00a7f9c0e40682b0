// records.h: the stored JSON form of the broker's records (runs, sessions, approvals, access
// keys). Documents use camelCase member names; the store's generated columns read some of
// them ($.runId, $.agent, $.role, $.status, $.expiresAt). Decoding is strict about types and
// tolerant of unknown members (written by newer versions).
#ifndef XROLE_SESSION_RECORDS_H_
#define XROLE_SESSION_RECORDS_H_

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/json_writer.h"
#include "session/broker.h"
#include "xrole/status.h"

namespace xrole::session {

struct AccessKeyRecord {
  std::string access_key_id;
  std::string principal_kind;  // "agent", "human" or "run"
  std::string principal;       // name (for a run key: the run's agent)
  std::string run_id;          // for a run key: the run it is bound to
  std::int64_t created_at = 0;
  std::string status;  // "active", "inactive", "revoked" (a run key once its run is over)
};

// The one JSON shape of a decision's reasons, for API answers and audit records alike:
// [{"effect", "name"?, "policy", "sid"?, "statement"}], written in canonical (sorted) order.
void WriteReasons(json::Writer& writer, const std::vector<policy::Reason>& reasons);
nlohmann::json ReasonsJson(const std::vector<policy::Reason>& reasons);

// The one JSON shape of an offboard's outcome, for the API answer and the audit record alike:
// {kind, name, deleted, reason, revokedSessions, endedRuns, retiredKeys, cancelledApprovals,
// rewrittenRoles, counts: {the same five names: how many}} (without the audit id).
nlohmann::json OffboardJson(const OffboardResult& result);

// Epoch seconds as ISO 8601 UTC, "2026-11-29T04:15:43Z".
std::string Iso8601(std::int64_t epoch_seconds);

std::string EncodeRun(const Run& run);
Result<Run> DecodeRun(std::string_view json);
std::string EncodeSession(const SessionRecord& session);
Result<SessionRecord> DecodeSession(std::string_view json);
std::string EncodeApproval(const Approval& approval);
Result<Approval> DecodeApproval(std::string_view json);
std::string EncodeAccessKey(const AccessKeyRecord& key);
Result<AccessKeyRecord> DecodeAccessKey(std::string_view json);

}  // namespace xrole::session

#endif  // XROLE_SESSION_RECORDS_H_
