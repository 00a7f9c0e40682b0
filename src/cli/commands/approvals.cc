// `xrole approvals`, `xrole approve` and `xrole deny`: human approval of sensitive assumes.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands/client_commands.h"

namespace xrole::cli {
namespace {

using nlohmann::json;

std::string Str(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

}  // namespace

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
    std::string decided = Str(a, "decidedBy");
    if (!Str(a, "reason").empty()) decided += " (" + Str(a, "reason") + ")";
    rows.push_back({Str(a, "approvalId"), Str(a, "status"), Str(a, "role"), Str(a, "runId"),
                    Str(a, "agent"), FormatSeconds(a.value("durationSeconds", std::int64_t{0})),
                    Str(a, "requestedAt"), Str(a, "expiresAt"), decided.empty() ? "-" : decided});
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
  std::printf("approval %s %s by %s: role %s for run %s (agent %s)\n", Str(a, "approvalId").c_str(),
              Str(a, "status").c_str(), Str(a, "decidedBy").c_str(), Str(a, "role").c_str(),
              Str(a, "runId").c_str(), Str(a, "agent").c_str());
  if (approve) {
    std::printf("the agent redeems it with: xrole assume --role %s --run %s --approval %s\n",
                Str(a, "role").c_str(), Str(a, "runId").c_str(), Str(a, "approvalId").c_str());
  }
  return kExitOk;
}

}  // namespace xrole::cli
