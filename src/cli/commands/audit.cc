// `xrole audit tail|verify|export`, `xrole health` and `xrole metrics`.
#include "audit/audit.h"

#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <system_error>
#include <thread>

#include "cli/commands/client_commands.h"
#include "session/keyring.h"
#include "store/store.h"

namespace xrole::cli {
namespace {

using nlohmann::json;

std::string TimeText(std::int64_t time_ms) {
  std::time_t seconds = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[40];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buffer, static_cast<int>(time_ms % 1000));
  return out;
}

// What a record is about, in a few words: the request of a decision, else its error.
std::string DetailText(const json& event) {
  json details = event.value("details", json::object());
  if (!details.is_object()) return "";
  std::string text;
  if (details.contains("action")) {
    text = JsonText(details, "action");
    if (!JsonText(details, "resource").empty()) text += " " + JsonText(details, "resource");
  } else {
    for (const char* key : {"object", "workflow", "principal", "approvalId", "keyId"}) {
      if (!JsonText(details, key).empty()) {
        text = JsonText(details, key);
        break;
      }
    }
  }
  for (const char* key : {"error", "message", "reason"}) {
    if (!JsonText(details, key).empty()) {
      text += (text.empty() ? "" : ": ") + JsonText(details, key);
      break;
    }
  }
  return text;
}

void PrintRecordLine(const json& record) {
  json event = record.value("event", json::object());
  if (!event.is_object()) event = json::object();
  json actor = event.value("actor", json::object());
  std::string who = JsonText(actor, "principal");
  if (!JsonText(actor, "agent").empty() && who != "agent:" + JsonText(actor, "agent")) {
    who += " agent:" + JsonText(actor, "agent");
  }
  std::string line;
  char head[160];
  std::snprintf(head, sizeof(head), "%6s  %s  %-20s %-17s", JsonText(record, "seq").c_str(),
                TimeText(record.value("time", std::int64_t{0})).c_str(),
                JsonText(record, "type").c_str(), JsonText(event, "outcome").c_str());
  line = head;
  line += " " + who;
  if (!JsonText(event, "run").empty()) line += " run:" + JsonText(event, "run");
  if (!JsonText(event, "role").empty()) line += " role:" + JsonText(event, "role");
  std::string detail = DetailText(event);
  if (!detail.empty()) line += "  " + detail;
  std::printf("%s\n", line.c_str());
}

volatile std::sig_atomic_t g_stop_follow = 0;
void OnFollowSignal(int) { g_stop_follow = 1; }

json ReportJson(const audit::VerifyReport& report) {
  json problems = json::array();
  for (const auto& p : report.problems) {
    problems.push_back({{"seq", p.seq}, {"kind", p.kind}, {"message", p.message}});
  }
  return {{"ok", report.ok},
          {"records", report.records},
          {"lastSeq", report.last_seq},
          {"lastHash", report.last_hash},
          {"checkpoints", report.checkpoints},
          {"lastCheckpointSeq", report.last_checkpoint_seq},
          {"prunedThrough", report.pruned_through},
          {"problems", problems}};
}

int PrintVerifyReport(const json& report, bool json_output) {
  bool ok = report.value("ok", false);
  if (json_output) {
    std::printf("%s\n", report.dump().c_str());
    return ok ? kExitOk : kExitRefused;
  }
  std::printf("audit chain: %s records, last seq %s; ", JsonText(report, "records").c_str(),
              JsonText(report, "lastSeq").c_str());
  if (report.value("checkpoints", std::int64_t{0}) == 0) {
    std::printf("no signed checkpoint yet\n");
  } else {
    std::printf("%s signed checkpoints, the last at seq %s\n",
                JsonText(report, "checkpoints").c_str(),
                JsonText(report, "lastCheckpointSeq").c_str());
  }
  if (!JsonText(report, "lastHash").empty()) {
    std::printf("last hash: %s\n", JsonText(report, "lastHash").c_str());
  }
  json problems = report.value("problems", json::array());
  if (ok && problems.empty()) {
    std::printf("ok: the chain is intact and every checkpoint verifies\n");
    return kExitOk;
  }
  std::printf("FAILED: %zu problem%s\n", problems.size(), problems.size() == 1 ? "" : "s");
  std::vector<std::vector<std::string>> rows = {{"SEQ", "PROBLEM", "MESSAGE"}};
  for (const auto& p : problems) {
    rows.push_back({JsonText(p, "seq"), JsonText(p, "kind"), JsonText(p, "message")});
  }
  PrintTable(rows);
  return kExitRefused;
}

// Verifies the chain straight from a data directory: its database and its key ring's public
// keys. Opens nothing that is not already there.
int VerifyOffline(const Client& client) {
  const std::string& data = client.data_dir();
  std::error_code ec;
  std::string db = data + "/xrole.db";
  if (!std::filesystem::is_regular_file(db, ec)) {
    return UsageError("audit verify --offline: no database `" + db +
                      "` (give --data DIR or set XROLE_DATA)");
  }
  if (!std::filesystem::is_directory(data + "/keys", ec)) {
    return UsageError("audit verify --offline: no key directory `" + data + "/keys`");
  }
  auto keys = session::KeyRing::Open(data);
  if (!keys.ok()) return UsageError("audit verify --offline: " + DescribeError(keys.error()));
  // A running server's prune would delete records from under the read: held off meanwhile.
  auto no_prune = store::HoldOffAuditPrune(db);
  if (!no_prune.ok()) {
    return UsageError("audit verify --offline: " + DescribeError(no_prune.error()));
  }
  auto store = store::OpenSqlite(db);
  if (!store.ok()) return UsageError("audit verify --offline: " + DescribeError(store.error()));
  // The checkpoints first: each pins a record that the pages below reach. The records stream
  // through the verifier a page at a time, so a long chain is never in memory as a whole.
  auto checkpoints = (*store)->ReadCheckpoints();
  if (!checkpoints.ok()) {
    return UsageError("audit verify --offline: " + DescribeError(checkpoints.error()));
  }
  audit::PublicKeys public_keys;
  for (const auto& key : (*keys)->PublicKeys()) public_keys[key.key_id] = key.public_key;
  audit::ChainVerifier verifier(std::move(*checkpoints), std::move(public_keys));
  Status read =
      store::ForEachAuditRow(**store, 0, store::kAuditPageRows,
                             [&verifier](store::AuditRow row) { verifier.Add(std::move(row)); });
  if (!read.ok()) return UsageError("audit verify --offline: " + DescribeError(read.error()));
  return PrintVerifyReport(ReportJson(verifier.Finish()), client.json_output());
}

}  // namespace

int RunAuditTail(const ClientOptions& client_options, const AuditTailOptions& options) {
  if (options.after < 0 || options.limit < 0) {
    return UsageError("audit tail: --after and --limit must not be negative");
  }
  Client client(client_options);
  std::int64_t after = options.after;
  if (options.follow) {
    std::signal(SIGINT, OnFollowSignal);
    std::signal(SIGTERM, OnFollowSignal);
  }
  do {
    std::string target = "/v1/audit?after=" + std::to_string(after);
    if (options.limit > 0) target += "&limit=" + std::to_string(options.limit);
    Reply reply = client.Call("GET", target);
    if (!reply.ok()) return client.Report(reply);
    json result = json::parse(reply.body, nullptr, false);
    json records = result.value("records", json::array());
    for (const auto& record : records) {
      if (client.json_output()) {
        std::printf("%s\n", record.dump().c_str());
      } else {
        PrintRecordLine(record);
      }
    }
    std::fflush(stdout);
    after = result.value("next", after);
    if (options.follow && records.empty()) {
      for (int i = 0; i < 10 && !g_stop_follow; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  } while (options.follow && !g_stop_follow);
  return kExitOk;
}

int RunAuditVerify(const ClientOptions& client_options, bool offline) {
  Client client(client_options);
  if (offline) return VerifyOffline(client);
  Reply reply = client.Call("GET", "/v1/audit/verify");
  json report = json::parse(reply.body, nullptr, false);
  bool has_report = reply.error.empty() && (reply.status == 200 || reply.status == 409) &&
                    report.is_object() && report.contains("ok");
  if (!has_report) return client.Report(reply);
  return PrintVerifyReport(report, client.json_output());
}

int RunAuditExport(const ClientOptions& client_options, const std::string& output_file,
                   std::int64_t after) {
  if (after < 0) return UsageError("audit export: --after must not be negative");
  Client client(client_options);
  Reply reply = client.Call("GET", "/v1/audit/export?after=" + std::to_string(after));
  if (!reply.ok()) return client.Report(reply);
  std::size_t lines = 0;
  for (char c : reply.body) lines += c == '\n';
  if (output_file.empty() || output_file == "-") {
    std::fwrite(reply.body.data(), 1, reply.body.size(), stdout);
    return kExitOk;
  }
  std::ofstream out(output_file, std::ios::binary | std::ios::trunc);
  out << reply.body;
  out.close();
  if (!out) return UsageError("audit export: cannot write `" + output_file + "`");
  std::fprintf(stderr, "xrole: exported %zu audit record%s to %s\n", lines, lines == 1 ? "" : "s",
               output_file.c_str());
  return kExitOk;
}

int RunAuditPrune(const ClientOptions& client_options, const AuditPruneOptions& options) {
  if ((options.through_seq > 0) == (options.older_than_days > 0)) {
    return UsageError("audit prune: give --through SEQ or --older-than-days DAYS");
  }
  if (!options.dry_run && options.archive_file.empty() && !options.no_archive) {
    return UsageError(
        "audit prune: give --archive FILE to keep the removed records, or --no-archive");
  }
  std::error_code ec;
  if (!options.archive_file.empty() && std::filesystem::exists(options.archive_file, ec)) {
    return UsageError("audit prune: `" + options.archive_file + "` exists; not overwriting it");
  }
  Client client(client_options);
  json cut_request = {{"dryRun", true}};
  if (options.through_seq > 0) cut_request["throughSeq"] = options.through_seq;
  if (options.older_than_days > 0) cut_request["olderThanDays"] = options.older_than_days;
  Reply reply = client.Call("POST", "/v1/audit/prune", cut_request.dump());
  if (!reply.ok()) return client.Report(reply);
  json cut = json::parse(reply.body, nullptr, false);
  const std::int64_t first = cut.value("firstSeq", std::int64_t{0});
  const std::int64_t through = cut.value("throughSeq", std::int64_t{0});
  const std::int64_t records = cut.value("records", std::int64_t{0});
  const std::string hash = cut.value("hash", std::string());
  if (options.dry_run) {
    if (client.json_output()) {
      std::printf("%s\n", reply.body.c_str());
    } else {
      std::printf("would remove %lld audit records, %lld..%lld (the last has hash %s)\n",
                  static_cast<long long>(records), static_cast<long long>(first),
                  static_cast<long long>(through), hash.c_str());
    }
    return kExitOk;
  }

  if (!options.archive_file.empty()) {
    Reply exported = client.Call("GET", "/v1/audit/export?after=" + std::to_string(first - 1) +
                                            "&limit=" + std::to_string(records));
    if (!exported.ok()) return client.Report(exported);
    // The archive must be exactly the records the server will remove.
    std::int64_t count = 0;
    json last;
    std::size_t start = 0;
    while (start < exported.body.size()) {
      std::size_t end = exported.body.find('\n', start);
      if (end == std::string::npos) end = exported.body.size();
      json line = json::parse(exported.body.substr(start, end - start), nullptr, false);
      if (count == 0 && line.value("seq", std::int64_t{0}) != first) break;
      last = std::move(line);
      ++count;
      start = end + 1;
    }
    if (count != records || last.value("seq", std::int64_t{0}) != through ||
        last.value("hash", std::string()) != hash) {
      return UsageError("audit prune: the exported records do not match the cut (" +
                        std::to_string(count) + " of " + std::to_string(records) +
                        " records); nothing was removed");
    }
    {
      std::ofstream out(options.archive_file, std::ios::binary | std::ios::trunc);
      out << exported.body;
      out.flush();
      if (!out) {
        return UsageError("audit prune: cannot write `" + options.archive_file +
                          "`; nothing was removed");
      }
    }
    std::fprintf(stderr, "xrole: archived audit records %lld..%lld to %s\n",
                 static_cast<long long>(first), static_cast<long long>(through),
                 options.archive_file.c_str());
  }

  json prune_request = {{"throughSeq", through}, {"expectHash", hash}};
  reply = client.Call("POST", "/v1/audit/prune", prune_request.dump());
  if (!reply.ok()) return client.Report(reply);
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
    return kExitOk;
  }
  json result = json::parse(reply.body, nullptr, false);
  std::printf(
      "removed %lld audit records, %lld..%lld; the chain now starts after %s (audit "
      "record %s)\n",
      static_cast<long long>(records), static_cast<long long>(first),
      static_cast<long long>(through), hash.c_str(), JsonText(result, "auditId").c_str());
  return kExitOk;
}

int RunHealth(const ClientOptions& client_options) {
  Client client(client_options);
  Reply reply = client.Call("GET", "/healthz", "", /*authenticate=*/false);
  json result = json::parse(reply.body, nullptr, false);
  if (!reply.error.empty() || !result.is_object() || !result.contains("status")) {
    return client.Report(reply);
  }
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
  } else {
    std::printf("%s: %s\n", client.server().c_str(), JsonText(result, "status").c_str());
  }
  return reply.ok() ? kExitOk : kExitError;
}

int RunMetrics(const ClientOptions& client_options) {
  Client client(client_options);
  Reply reply = client.Call("GET", "/metrics", "", /*authenticate=*/false);
  if (!reply.ok()) return client.Report(reply);
  std::fwrite(reply.body.data(), 1, reply.body.size(), stdout);
  return kExitOk;
}

}  // namespace xrole::cli
