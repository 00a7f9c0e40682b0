// `xrole apply`, `xrole roles` and `xrole drift`: roles as code on the server.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "cli/commands/client_commands.h"
#include "session/objects.h"

namespace xrole::cli {
namespace {

using nlohmann::json;

// Every document of every path, parsed here (so errors name the file and line), as one JSON
// array of canonical documents: one request, one transaction, whatever mix of YAML and JSON.
Result<std::string> BuildApplyBody(const std::vector<std::string>& paths, std::size_t* count) {
  XROLE_ASSIGN_OR_RETURN(auto documents, ReadObjectDocuments(paths));
  std::string body = "[";
  for (std::size_t i = 0; i < documents.size(); ++i) {
    if (i > 0) body += ",";
    body += documents[i].canonical_json;
  }
  *count = documents.size();
  return body + "]";
}

std::string JoinList(const json& array, std::size_t limit = 0) {
  std::string out;
  std::size_t shown = 0;
  for (const auto& item : array) {
    if (limit && shown == limit) return out + ", ... (" + std::to_string(array.size()) + ")";
    if (!out.empty()) out += ", ";
    out += item.is_string() ? item.get<std::string>() : item.dump();
    ++shown;
  }
  return out.empty() ? "-" : out;
}

void PrintRole(const json& role) {
  std::vector<std::vector<std::string>> rows = {
      {"name:", JsonText(role, "name")},
      {"arn:", JsonText(role, "arn")},
      {"owner:", JsonText(role, "owner")},
      {"environment:", JsonText(role, "environment")},
      {"objective:", JsonText(role, "objective")},
      {"description:", JsonText(role, "description")},
      {"max session:", FormatSeconds(role.value("maxSessionDuration", std::int64_t{0}))},
      {"approval:", role.value("approvalRequired", false) ? "required" : "not required"},
      {"review by:", JsonText(role, "reviewBy").empty() ? "-" : JsonText(role, "reviewBy")},
      {"version:", JsonText(role, "version")},
  };
  std::string tags;
  const json role_tags = role.value("tags", json::object());
  for (const auto& [k, v] : role_tags.items()) {
    tags +=
        (tags.empty() ? "" : ", ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  rows.push_back({"tags:", tags.empty() ? "-" : tags});
  rows.push_back({"workflows:", JoinList(role.value("workflows", json::array()))});
  std::string permissions;
  for (const auto& p : role.value("permissions", json::array())) {
    std::size_t statements = p.contains("policy") && p["policy"].contains("Statement") &&
                                     p["policy"]["Statement"].is_array()
                                 ? p["policy"]["Statement"].size()
                                 : 1;
    permissions += (permissions.empty() ? "" : ", ") + JsonText(p, "name") + " (" +
                   std::to_string(statements) + " statement" + (statements == 1 ? "" : "s") + ")";
  }
  rows.push_back({"permissions:", permissions.empty() ? "-" : permissions});
  rows.push_back({"boundary:", role.contains("boundary") ? "yes" : "none"});
  PrintTable(rows);
  json blast = role.value("blastRadius", json::object());
  std::printf("\nblast radius:\n");
  std::vector<std::vector<std::string>> radius = {
      {"  services:", JoinList(blast.value("services", json::array()))},
      {"  allowed actions:", JoinList(blast.value("allowedActionPatterns", json::array()), 12)},
      {"  denied actions:", JoinList(blast.value("deniedActionPatterns", json::array()), 12)},
      {"  resources:", JoinList(blast.value("resourcePatterns", json::array()), 12)},
  };
  std::string flags;
  if (blast.value("wildcardActions", false)) flags += "wildcard actions; ";
  if (blast.value("wildcardResources", false)) flags += "wildcard resources; ";
  if (blast.value("usesNotActionOrNotResource", false)) flags += "NotAction/NotResource; ";
  flags += blast.value("boundary", false) ? "bounded by a permissions boundary"
                                          : "no permissions boundary";
  radius.push_back({"  notes:", flags});
  PrintTable(radius);
}

}  // namespace

int RunApply(const ClientOptions& client_options, const ApplyOptions& options) {
  if (options.paths.empty() && options.deletions.empty()) {
    return UsageError("apply: give -f PATH (files or directories) or --delete Kind/name");
  }
  std::size_t count = 0;
  auto body = BuildApplyBody(options.paths, &count);
  if (!body.ok()) return UsageError("apply: " + DescribeError(body.error()));
  std::string target = "/v1/apply";
  std::string query;
  if (options.dry_run) query += "dryRun=true";
  if (!options.deletions.empty()) {
    std::string joined;
    for (const auto& d : options.deletions) joined += (joined.empty() ? "" : ",") + d;
    query += (query.empty() ? "" : "&") + std::string("delete=") + UrlEncode(joined);
  }
  if (!query.empty()) target += "?" + query;
  Client client(client_options);
  Reply reply = client.Call("POST", target, *body);
  if (!reply.ok()) return client.Report(reply);
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
    return kExitOk;
  }
  json result = json::parse(reply.body, nullptr, false);
  std::map<std::string, int> counts;
  std::vector<std::vector<std::string>> rows = {{"OBJECT", "CHANGE"}};
  for (const auto& change : result.value("changes", json::array())) {
    std::string action = JsonText(change, "action");
    ++counts[action];
    rows.push_back({JsonText(change, "object"), action});
  }
  PrintTable(rows);
  bool dry_run = result.value("dryRun", false);
  std::printf("%d created, %d updated, %d unchanged, %d deleted", counts["created"],
              counts["updated"], counts["unchanged"], counts["deleted"]);
  if (dry_run) {
    std::printf("; dry run: nothing was changed\n");
  } else {
    std::printf(" (audit record %s)\n", JsonText(result, "auditId").c_str());
  }
  for (const auto& key : result.value("retiredKeys", json::array())) {
    if (key.is_string()) std::printf("retired access key %s\n", key.get<std::string>().c_str());
  }
  return kExitOk;
}

int RunRoles(const ClientOptions& client_options, const std::string& name) {
  Client client(client_options);
  Reply reply = client.Call("GET", name.empty() ? "/v1/roles" : "/v1/roles/" + UrlEncode(name));
  if (!reply.ok()) return client.Report(reply);
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
    return kExitOk;
  }
  json result = json::parse(reply.body, nullptr, false);
  if (!name.empty()) {
    PrintRole(result);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "ACCOUNT", "ENVIRONMENT", "MAX SESSION", "APPROVAL", "OWNER", "OBJECTIVE"}};
  for (const auto& role : result.value("roles", json::array())) {
    std::string objective = JsonText(role, "objective");
    if (objective.size() > 60) objective = objective.substr(0, 57) + "...";
    rows.push_back({JsonText(role, "name"), JsonText(role, "account"),
                    JsonText(role, "environment"),
                    FormatSeconds(role.value("maxSessionDuration", std::int64_t{0})),
                    role.value("approvalRequired", false) ? "required" : "-",
                    JsonText(role, "owner"), objective});
  }
  PrintTable(rows);
  return kExitOk;
}

int RunDrift(const ClientOptions& client_options, const std::string& workflow) {
  Client client(client_options);
  Reply reply = client.Call(
      "GET", workflow.empty() ? "/v1/drift" : "/v1/drift?workflow=" + UrlEncode(workflow));
  if (!reply.ok()) return client.Report(reply);
  json result = json::parse(reply.body, nullptr, false);
  const bool drift = result.value("drift", false);
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
    return drift ? kExitRefused : kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"WORKFLOW", "ROLE", "DRIFT", "ACTION", "RESOURCE", "DECISION", "STATEMENT"}};
  for (const auto& f : result.value("findings", json::array())) {
    const std::string kind = JsonText(f, "kind");
    // An expanded pattern: `s3:Get* (2 of 41 unneeded: s3:GetObjectAcl, s3:GetObjectTagging)`.
    std::string action = JsonText(f, "action");
    const json unneeded = f.value("unneededActions", json::array());
    if (!unneeded.empty()) {
      action += " (" + std::to_string(unneeded.size()) + " of " +
                std::to_string(f.value("grantedActions", 0)) + " unneeded: ";
      for (std::size_t i = 0; i < unneeded.size() && i < 3; ++i) {
        action += (i > 0 ? ", " : "") + unneeded[i].get<std::string>();
      }
      action += unneeded.size() > 3 ? ", ...)" : ")";
    }
    rows.push_back({JsonText(f, "workflow"), JsonText(f, "role"),
                    kind == "missing"       ? "needed, not allowed"
                    : kind == "conditional" ? "needed, only under conditions"
                                            : "granted, not needed",
                    action, JsonText(f, "resource"), JsonText(f, "decision"),
                    JsonText(f, "statement").empty() ? "-" : JsonText(f, "statement")});
  }
  if (rows.size() > 1) PrintTable(rows);
  const json checked = result.value("checked", json::array());
  const json undeclared = result.value("undeclared", json::array());
  std::printf("%s%s\n", drift ? "drift found; checked: " : "no drift; checked: ",
              checked.empty() ? "none" : JoinList(checked).c_str());
  if (!undeclared.empty()) {
    std::printf("declare no needs (not checked): %s\n", JoinList(undeclared).c_str());
  }
  return drift ? kExitRefused : kExitOk;
}

}  // namespace xrole::cli
