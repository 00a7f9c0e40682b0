// `xrole approvals`, `xrole approve` and `xrole deny`: human approval of sensitive assumes.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands/client_commands.h"

namespace xrole::cli {
using nlohmann::json;

int RunApprovals(const ClientOptions& client_options, bool all) {
  Client client(client_options);
  Reply reply = client.Call("GET", all ? "/v1/approvals?all=true" : "/v1/approvals");
  if (!reply.ok()) return client.Report(reply);
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
    return kExitOk;
  }
  json result = json::parse(reply.body, nullptr, false);
  json approvals = result.value("approvals", json::array());
  if (approvals.empty()) {
    std::printf(all ? "no approvals\n" : "no pending approvals\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"APPROVAL", "STATUS", "ROLE", "RUN", "AGENT",
                                                 "DURATION", "REQUESTED", "EXPIRES", "DECIDED BY"}};
  for (const auto& a : approvals) {
    std::string decided = JsonText(a, "decidedBy");
    if (!JsonText(a, "reason").empty()) decided += " (" + JsonText(a, "reason") + ")";
    rows.push_back({JsonText(a, "approvalId"), JsonText(a, "status"), JsonText(a, "role"),
                    JsonText(a, "runId"), JsonText(a, "agent"),
                    FormatSeconds(a.value("durationSeconds", std::int64_t{0})),
                    JsonText(a, "requestedAt"), JsonText(a, "expiresAt"),
                    decided.empty() ? "-" : decided});
  }
  PrintTable(rows);
  return kExitOk;
}

int RunDecideApproval(const ClientOptions& client_options, const std::string& approval_id,
                      bool approve, const std::string& reason) {
  json body = json::object();
  if (!reason.empty()) body["reason"] = reason;
  Client client(client_options);
  Reply reply = client.Call(
      "POST", "/v1/approvals/" + UrlEncode(approval_id) + (approve ? "/approve" : "/deny"),
      body.dump());
  if (!reply.ok()) return client.Report(reply);
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
    return kExitOk;
  }
  json a = json::parse(reply.body, nullptr, false);
  std::printf("approval %s %s by %s: role %s for run %s (agent %s)\n",
              JsonText(a, "approvalId").c_str(), JsonText(a, "status").c_str(),
              JsonText(a, "decidedBy").c_str(), JsonText(a, "role").c_str(),
              JsonText(a, "runId").c_str(), JsonText(a, "agent").c_str());
  if (approve) {
    std::printf("the agent redeems it with: xrole assume --role %s --run %s --approval %s\n",
                JsonText(a, "role").c_str(), JsonText(a, "runId").c_str(),
                JsonText(a, "approvalId").c_str());
  }
  return kExitOk;
}

}  // namespace xrole::cli
