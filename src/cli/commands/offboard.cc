// `xrole offboard` and `xrole review`: retiring agents, roles and workflows, and finding the
// ones that should be retired.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands/client_commands.h"

namespace xrole::cli {
namespace {

using nlohmann::json;

// "3: ses-a, ses-b, ses-c", or "0" when nothing was changed.
std::string CountAndIds(const json& result, const char* key) {
  const json ids = result.value(key, json::array());
  std::string out = std::to_string(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    out +=
        (i == 0 ? ": " : ", ") + (ids[i].is_string() ? ids[i].get<std::string>() : ids[i].dump());
  }
  return out;
}

}  // namespace

int RunOffboard(const ClientOptions& client_options, const OffboardOptions& options) {
  json body = {{"kind", options.kind}, {"name", options.name}};
  if (!options.reason.empty()) body["reason"] = options.reason;
  Client client(client_options);
  Reply reply = client.Call("POST", "/v1/offboard", body.dump());
  if (!reply.ok()) return client.Report(reply);
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
    return kExitOk;
  }
  json result = json::parse(reply.body, nullptr, false);
  std::printf("offboarded %s (deleted; audit record %s)\n", JsonText(result, "deleted").c_str(),
              JsonText(result, "auditId").c_str());
  PrintTable({{"  revoked sessions:", CountAndIds(result, "revokedSessions")},
              {"  revoked runs:", CountAndIds(result, "endedRuns")},
              {"  retired access keys:", CountAndIds(result, "retiredKeys")},
              {"  cancelled approvals:", CountAndIds(result, "cancelledApprovals")},
              {"  roles with expanded trust:", CountAndIds(result, "rewrittenRoles")}});
  if (!result.value("rewrittenRoles", json::array()).empty()) {
    std::printf(
        "the roles above named it in their trust shorthand: each now holds the IAM trust "
        "document the shorthand expanded to (same decisions); update their source files\n");
  }
  return kExitOk;
}

int RunReview(const ClientOptions& client_options, std::int64_t stale_days) {
  Client client(client_options);
  Reply reply = client.Call(
      "GET", stale_days > 0 ? "/v1/review?staleDays=" + std::to_string(stale_days) : "/v1/review");
  if (!reply.ok()) return client.Report(reply);
  json result = json::parse(reply.body, nullptr, false);
  const json findings = result.value("findings", json::array());
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
    return findings.empty() ? kExitOk : kExitRefused;
  }
  std::vector<std::vector<std::string>> rows = {
      {"KIND", "NAME", "FINDING", "DETAIL", "SUGGESTED ACTION"}};
  for (const auto& f : findings) {
    rows.push_back({JsonText(f, "kind"), JsonText(f, "name"), JsonText(f, "code"),
                    JsonText(f, "detail"), JsonText(f, "action")});
  }
  if (!findings.empty()) PrintTable(rows);
  const json checked = result.value("checked", json::object());
  std::printf("%s; checked %s roles, %s agents, %s access keys; stale after %s days; as of %s\n",
              findings.empty() ? "nothing to review"
                               : (std::to_string(findings.size()) +
                                  (findings.size() == 1 ? " finding" : " findings"))
                                     .c_str(),
              JsonText(checked, "roles").c_str(), JsonText(checked, "agents").c_str(),
              JsonText(checked, "accessKeys").c_str(), JsonText(result, "staleDays").c_str(),
              JsonText(result, "asOf").c_str());
  return findings.empty() ? kExitOk : kExitRefused;
}

}  // namespace xrole::cli
