// The canonical encoding of audit records, the chain hash, checkpoint messages and the export
// line. The exact byte format is specified in README.md; a change here is a change of the
// on-disk format and breaks verification of existing chains.
#include "audit/audit.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "audit/canonical.h"
#include "common/json_writer.h"

namespace xrole::audit {
namespace {

using nlohmann::json;

// Objects and arrays nested deeper than this inside `details` are not kept as JSON.
constexpr int kMaxDetailsDepth = 64;

// Replaces every floating-point number by its text (so that the canonical form holds only
// integers, which every JSON library prints the same way). False if objects and arrays nest
// deeper than `max_depth`.
bool NormalizeCanonical(json& root, int max_depth) {
  std::vector<std::pair<json*, int>> pending{{&root, 0}};
  while (!pending.empty()) {
    auto [value, depth] = pending.back();
    pending.pop_back();
    if (value->is_number_float()) {
      *value = value->dump();
    } else if (value->is_structured()) {
      if (depth >= max_depth) return false;
      for (json& child : *value) pending.emplace_back(&child, depth + 1);
    }
  }
  return true;
}

// Compact, sorted keys, ASCII only (\uXXXX escapes, lower-case hex), invalid UTF-8 replaced.
std::string DumpCanonical(const json& value) {
  try {
    return value.dump(-1, ' ', /*ensure_ascii=*/true, json::error_handler_t::strict);
  } catch (const json::type_error&) {
    // Invalid UTF-8 somewhere: replace it by U+FFFD, then dump again so that object keys are
    // sorted by their replaced text.
    std::string replaced =
        value.dump(-1, ' ', /*ensure_ascii=*/true, json::error_handler_t::replace);
    return json::parse(replaced).dump(-1, ' ', /*ensure_ascii=*/true,
                                      json::error_handler_t::replace);
  }
}

json ParseDetails(std::string_view details_json) {
  std::size_t start = details_json.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return json();  // empty: no details
  json parsed = json::parse(details_json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !NormalizeCanonical(parsed, kMaxDetailsDepth)) {
    return json(std::string(details_json));  // kept verbatim as a string, never dropped
  }
  if (parsed.is_object() && parsed.empty()) return json();
  return parsed;
}

void PutIfSet(json& object, const char* key, const std::string& value) {
  if (!value.empty()) object[key] = value;
}

}  // namespace

bool IsCanonicalBody(std::string_view body) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return false;
  if (!NormalizeCanonical(parsed, kMaxDetailsDepth + 1)) return false;
  return DumpCanonical(parsed) == body;
}

std::string CanonicalBody(const Event& event) {
  const bool has_details = event.details_canonical && event.details_json != "{}";
  if (!event.details_canonical &&
      event.details_json.find_first_not_of(" \t\r\n") != std::string::npos) {
    return CanonicalBodyViaDom(event);  // details to parse and normalise
  }
  // Members in sorted key order, as the DOM form produces them.
  xrole::json::Writer writer(256 + event.details_json.size());
  writer.BeginObject();
  const ActorChain& actor = event.actor;
  if (!actor.principal.empty() || !actor.human.empty() || !actor.agent.empty() ||
      !actor.parent_session.empty() || !actor.session.empty()) {
    writer.Key("actor")
        .BeginObject()
        .FieldIfSet("agent", actor.agent)
        .FieldIfSet("human", actor.human)
        .FieldIfSet("parentSession", actor.parent_session)
        .FieldIfSet("principal", actor.principal)
        .FieldIfSet("session", actor.session)
        .EndObject();
  }
  if (has_details) writer.Key("details").Raw(event.details_json);
  writer.FieldIfSet("outcome", event.outcome)
      .FieldIfSet("policyHash", event.policy_hash)
      .FieldIfSet("role", event.role)
      .FieldIfSet("run", event.run)
      .EndObject();
  if (!writer.ok()) return CanonicalBodyViaDom(event);
  return writer.Take();
}

std::string CanonicalBodyViaDom(const Event& event) {
  json body = json::object();
  json actor = json::object();
  PutIfSet(actor, "principal", event.actor.principal);
  PutIfSet(actor, "human", event.actor.human);
  PutIfSet(actor, "agent", event.actor.agent);
  PutIfSet(actor, "parentSession", event.actor.parent_session);
  PutIfSet(actor, "session", event.actor.session);
  if (!actor.empty()) body["actor"] = std::move(actor);
  json details = ParseDetails(event.details_json);
  if (!details.is_null()) body["details"] = std::move(details);
  PutIfSet(body, "run", event.run);
  PutIfSet(body, "role", event.role);
  PutIfSet(body, "policyHash", event.policy_hash);
  PutIfSet(body, "outcome", event.outcome);
  return DumpCanonical(body);
}

std::string CanonicalRecord(std::int64_t seq, std::int64_t time_ms, std::string_view type,
                            std::string_view body) {
  // Equal to the canonical dump of {"event": body, "seq", "time", "type"} (keys in that sorted
  // order) for a canonical body; built by concatenation so the body is hashed byte for byte.
  std::string record;
  record.reserve(body.size() + type.size() + 64);
  record += "{\"event\":";
  record += body;
  record += ",\"seq\":";
  record += std::to_string(seq);
  record += ",\"time\":";
  record += std::to_string(time_ms);
  record += ",\"type\":";
  const std::size_t type_start = record.size();
  if (!xrole::json::AppendAsciiQuoted(record, type)) {
    record.resize(type_start);
    record += DumpCanonical(json(std::string(type)));
  }
  record += '}';
  return record;
}

std::string ChainHash(std::string_view prev_hash_hex, std::string_view canonical_record) {
  std::string input;
  input.reserve(prev_hash_hex.size() + 1 + canonical_record.size());
  input += prev_hash_hex;
  input += '\n';
  input += canonical_record;
  return crypto::Sha256Hex(input);
}

std::string CheckpointMessage(std::int64_t seq, std::string_view hash, std::int64_t time_ms) {
  std::string message = "xrole-audit-checkpoint\n";
  message += std::to_string(seq);
  message += '\n';
  message += hash;
  message += '\n';
  message += std::to_string(time_ms);
  return message;
}

std::string ExportLine(const store::AuditRow& row) {
  json line = json::object();
  json event = json::parse(row.body, nullptr, /*allow_exceptions=*/false);
  line["event"] = event.is_discarded() ? json(row.body) : std::move(event);
  line["seq"] = row.seq;
  line["time"] = row.time_ms;
  line["type"] = row.type;
  line["prevHash"] = row.prev_hash;
  line["hash"] = row.hash;
  return DumpCanonical(line);
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace xrole::audit
