// `xrole authorize`: one decision (or a batch) for a session, as a policy enforcement point
// would ask for it.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands/client_commands.h"

namespace xrole::cli {
namespace {

using nlohmann::json;

// --context k=v items: a key given once is a string, a key given again becomes a list.
Result<json> BuildContext(const std::vector<std::string>& items) {
  json context = json::object();
  for (const auto& item : items) {
    std::size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Error(ErrorCode::kInvalidArgument, "--context takes KEY=VALUE, got `" + item + "`");
    }
    std::string key = item.substr(0, eq);
    std::string value = item.substr(eq + 1);
    auto it = context.find(key);
    if (it == context.end()) {
      context[key] = value;
    } else if (it->is_array()) {
      it->push_back(value);
    } else {
      *it = json::array({*it, value});
    }
  }
  return context;
}

bool IsAllowed(const json& decision) { return JsonText(decision, "decision") == "Allowed"; }

std::string ReasonText(const json& reason) {
  std::string text = JsonText(reason, "effect") + "  " + JsonText(reason, "policy");
  if (!JsonText(reason, "name").empty()) text += " (" + JsonText(reason, "name") + ")";
  text += ", statement " + JsonText(reason, "statement");
  if (!JsonText(reason, "sid").empty()) text += " `" + JsonText(reason, "sid") + "`";
  return text;
}

void PrintDecision(const json& decision) {
  std::printf("%s\n", JsonText(decision, "decision").c_str());
  if (decision.contains("error")) {
    const json& error = decision["error"];
    std::printf("  rejected: %s: %s\n", JsonText(error, "code").c_str(),
                JsonText(error, "message").c_str());
  }
  for (const auto& reason : decision.value("reasons", json::array())) {
    std::printf("  %s\n", ReasonText(reason).c_str());
  }
  if (!IsAllowed(decision) && decision.value("reasons", json::array()).empty() &&
      !decision.contains("error")) {
    std::printf("  no statement allows it (implicit deny)\n");
  }
  for (const auto& step : decision.value("explanation", json::array())) {
    std::printf("  | %s\n", step.is_string() ? step.get<std::string>().c_str() : "");
  }
  if (!JsonText(decision, "sessionId").empty()) {
    std::printf("session: %s\n", JsonText(decision, "sessionId").c_str());
  }
  std::printf("audit record: %s\n", JsonText(decision, "auditId").c_str());
}

}  // namespace

int RunAuthorize(const ClientOptions& client_options, const AuthorizeOptions& options) {
  std::string token = options.session_token;
  if (token.empty() && options.access_key_id.empty()) {
    const char* env = std::getenv("XROLE_SESSION_TOKEN");
    if (env != nullptr) token = env;
  }
  json body;
  bool by_key = !options.access_key_id.empty();
  bool batch = !options.batch_file.empty();
  if (batch) {
    auto text = ReadFileText(options.batch_file);
    if (!text.ok()) return UsageError("authorize: --batch: " + text.error().message());
    json requests = json::array();
    std::istringstream lines(*text);
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json request = json::parse(line, nullptr, false);
      if (!request.is_object()) {
        return UsageError("authorize: " + options.batch_file + ":" + std::to_string(number) +
                          ": each line must be a JSON object");
      }
      if (!request.contains("sessionToken") && !request.contains("accessKeyId")) {
        if (by_key) {
          request["accessKeyId"] = options.access_key_id;
        } else {
          request["sessionToken"] = token;
        }
      }
      if (request.contains("accessKeyId")) by_key = true;
      if (options.explain && !request.contains("explain")) request["explain"] = true;
      requests.push_back(std::move(request));
    }
    if (requests.empty()) return UsageError("authorize: --batch: no requests");
    body = {{"requests", requests}};
  } else {
    if (options.action.empty()) return UsageError("authorize: --action is required");
    if (token.empty() && !by_key) {
      return UsageError(
          "authorize: no session token: give --token or set XROLE_SESSION_TOKEN (or "
          "--access-key-id with the admin credential)");
    }
    auto context = BuildContext(options.context);
    if (!context.ok()) return UsageError("authorize: " + context.error().message());
    body = {{"action", options.action}, {"resource", options.resource}};
    if (by_key) {
      body["accessKeyId"] = options.access_key_id;
    } else {
      body["sessionToken"] = token;
    }
    if (!context->empty()) body["context"] = *context;
    if (options.explain) body["explain"] = true;
  }

  Client client(client_options);
  Reply reply = client.Call("POST", "/v1/authorize", body.dump(), /*authenticate=*/by_key);
  json result = json::parse(reply.body, nullptr, false);
  // A rejected token is still a decision (a deny, audited): 401 with a decision body.
  bool decided = reply.ok() || (reply.error.empty() && reply.status == 401 && result.is_object() &&
                                result.contains("decision"));
  if (!decided) {
    client.Report(reply);
    return kExitError;
  }
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
  } else if (!batch) {
    PrintDecision(result);
  }
  if (!batch) return IsAllowed(result) ? kExitOk : kExitRefused;

  bool all_allowed = true;
  const json& requests = body["requests"];
  const json results = result.value("results", json::array());
  std::vector<std::vector<std::string>> rows = {{"DECISION", "ACTION", "RESOURCE", "AUDIT"}};
  for (std::size_t i = 0; i < results.size(); ++i) {
    const json& decision = results[i];
    all_allowed = all_allowed && IsAllowed(decision);
    std::string outcome = JsonText(decision, "decision");
    if (decision.contains("error")) outcome += " (" + JsonText(decision["error"], "code") + ")";
    const json& request = i < requests.size() ? requests[i] : json::object();
    rows.push_back({outcome, JsonText(request, "action"), JsonText(request, "resource"),
                    JsonText(decision, "auditId")});
  }
  if (!client.json_output()) PrintTable(rows);
  return all_allowed ? kExitOk : kExitRefused;
}

}  // namespace xrole::cli
