// `xrole run start|end|show`, `xrole session show`, `xrole assume` and `xrole revoke`: runs and
// the role sessions bound to them.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands/client_commands.h"

namespace xrole::cli {
namespace {

using nlohmann::json;

std::string OrDash(std::string text) { return text.empty() ? "-" : text; }

std::string TagsText(const json& tags) {
  std::string out;
  if (!tags.is_object()) return "-";
  for (const auto& [k, v] : tags.items()) {
    out += (out.empty() ? "" : ", ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return OrDash(out);
}

void PrintRun(const json& run) {
  std::vector<std::vector<std::string>> rows = {
      {"run:", JsonText(run, "runId")},
      {"workflow:", JsonText(run, "workflow")},
      {"agent:", JsonText(run, "agent")},
      {"on behalf of:", OrDash(JsonText(run, "onBehalfOf"))},
      {"status:", JsonText(run, "status")},
      {"started:", JsonText(run, "startedAt")},
      {"expires:", JsonText(run, "expiresAt")},
      {"tags:", TagsText(run.value("tags", json::object()))}};
  if (!JsonText(run, "endedBy").empty()) rows.push_back({"ended by:", JsonText(run, "endedBy")});
  PrintTable(rows);
}

void PrintSession(const json& s) {
  std::vector<std::vector<std::string>> rows = {
      {"session:", JsonText(s, "sessionId")},
      {"role:", JsonText(s, "role")},
      {"assumed role:", JsonText(s, "assumedRoleArn")},
      {"run:", JsonText(s, "runId")},
      {"agent:", JsonText(s, "agent")},
      {"on behalf of:", OrDash(JsonText(s, "onBehalfOf"))},
      {"session name:", JsonText(s, "sessionName")},
      {"source identity:", OrDash(JsonText(s, "sourceIdentity"))},
      {"parent session:", OrDash(JsonText(s, "parentSessionId"))},
      {"tags:", TagsText(s.value("tags", json::object()))},
      {"issued:", JsonText(s, "issuedAt")},
      {"expires:", JsonText(s, "expiresAt")},
      {"access key id:", JsonText(s, "accessKeyId")},
      {"policy version:", JsonText(s, "policyHash")},
      {"status:", JsonText(s, "status")}};
  if (s.value("chained", false)) rows.push_back({"chained:", "yes (role chaining)"});
  if (!JsonText(s, "revokeReason").empty())
    rows.push_back({"revoked:", JsonText(s, "revokeReason")});
  PrintTable(rows);
}

}  // namespace

int RunRunStart(const ClientOptions& client_options, const RunStartOptions& options) {
  auto ttl = ParseDurationFlag(options.ttl, "--ttl");
  if (!ttl.ok()) return UsageError("run start: " + ttl.error().message());
  auto tags = ParseKeyValues(options.tags, "--tag");
  if (!tags.ok()) return UsageError("run start: " + tags.error().message());
  json body = {{"workflow", options.workflow}};
  if (!options.agent.empty()) body["agent"] = options.agent;
  if (!options.on_behalf_of.empty()) body["onBehalfOf"] = options.on_behalf_of;
  if (*ttl > 0) body["ttlSeconds"] = *ttl;
  if (!tags->empty()) body["tags"] = *tags;
  Client client(client_options);
  Reply reply = client.Call("POST", "/v1/runs", body.dump());
  if (!reply.ok()) return client.Report(reply);
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
    return kExitOk;
  }
  json run = json::parse(reply.body, nullptr, false);
  std::printf("%s\n", JsonText(run, "runId").c_str());
  PrintRun(run);
  // The run's key pair for the STS endpoint: the secret is shown only here.
  json credentials = run.value("credentials", json::object());
  if (!JsonText(credentials, "accessKeyId").empty()) {
    std::printf(
        "\nrun credentials (shown once; for AWS SDKs calling sts:AssumeRole on this "
        "server, valid until the run ends):\n");
    PrintTable({{"access key id:", JsonText(credentials, "accessKeyId")},
                {"secret access key:", JsonText(credentials, "secretAccessKey")}});
  }
  return kExitOk;
}

int RunRunEnd(const ClientOptions& client_options, const std::string& run_id) {
  Client client(client_options);
  Reply reply = client.Call("POST", "/v1/runs/" + UrlEncode(run_id) + "/end");
  if (!reply.ok()) return client.Report(reply);
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
    return kExitOk;
  }
  json result = json::parse(reply.body, nullptr, false);
  std::int64_t revoked = result.value("revoked", std::int64_t{0});
  std::printf("run %s ended; %lld session%s revoked\n", run_id.c_str(),
              static_cast<long long>(revoked), revoked == 1 ? "" : "s");
  return kExitOk;
}

namespace {

// GETs `path` and prints it: the API's JSON unchanged with --output json, else with `print`.
int ShowResource(const ClientOptions& client_options, const std::string& path,
                 void (*print)(const json&)) {
  Client client(client_options);
  Reply reply = client.Call("GET", path);
  if (!reply.ok()) return client.Report(reply);
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
  } else {
    print(json::parse(reply.body, nullptr, false));
  }
  return kExitOk;
}

}  // namespace

int RunRunShow(const ClientOptions& client_options, const std::string& run_id) {
  return ShowResource(client_options, "/v1/runs/" + UrlEncode(run_id), PrintRun);
}

int RunSessionShow(const ClientOptions& client_options, const std::string& session_id) {
  return ShowResource(client_options, "/v1/sessions/" + UrlEncode(session_id), PrintSession);
}

int RunAssume(const ClientOptions& client_options, const AssumeOptions& options) {
  auto duration = ParseDurationFlag(options.duration, "--duration");
  if (!duration.ok()) return UsageError("assume: " + duration.error().message());
  auto tags = ParseKeyValues(options.tags, "--tag");
  if (!tags.ok()) return UsageError("assume: " + tags.error().message());
  json body = {{"role", options.role}, {"runId", options.run_id}};
  if (!options.policy_file.empty()) {
    auto policy = ReadFileText(options.policy_file);
    if (!policy.ok()) return UsageError("assume: --policy: " + policy.error().message());
    body["policy"] = *policy;
  }
  if (!options.policy_arns.empty()) body["policyArns"] = options.policy_arns;
  if (!options.session_name.empty()) body["sessionName"] = options.session_name;
  if (*duration > 0) body["durationSeconds"] = *duration;
  if (!tags->empty()) body["tags"] = *tags;
  if (!options.source_identity.empty()) body["sourceIdentity"] = options.source_identity;
  if (!options.parent_session_id.empty()) body["parentSessionId"] = options.parent_session_id;
  if (!options.agent.empty()) body["agent"] = options.agent;
  if (!options.approval_id.empty()) body["approvalId"] = options.approval_id;

  Client client(client_options);
  std::string format = options.format;
  if (format.empty()) format = client.json_output() ? "json" : "text";
  Reply reply = client.Call("POST", "/v1/sessions", body.dump());
  if (!reply.ok()) return client.Report(reply);
  json result = json::parse(reply.body, nullptr, false);

  if (reply.status == 202) {
    std::string approval = JsonText(result, "approvalId");
    if (format == "json") {
      std::printf("%s\n", reply.body.c_str());
    } else if (format == "env") {
      std::printf("export XROLE_APPROVAL_ID=%s\n", ShellQuote(approval).c_str());
    } else {
      std::printf("%s\n", approval.c_str());
    }
    std::fprintf(stderr,
                 "xrole: approval required: role `%s` needs a human approval; request %s is "
                 "pending. A human who may approve runs `xrole approve %s`; then assume again "
                 "with --approval %s\n",
                 options.role.c_str(), approval.c_str(), approval.c_str(), approval.c_str());
    return kExitPending;
  }

  if (format == "json") {
    std::printf("%s\n", reply.body.c_str());
    return kExitOk;
  }
  json credentials = result.value("credentials", json::object());
  if (format == "env") {
    std::string token = JsonText(credentials, "sessionToken");
    std::printf("export AWS_ACCESS_KEY_ID=%s\n",
                ShellQuote(JsonText(credentials, "accessKeyId")).c_str());
    std::printf("export AWS_SECRET_ACCESS_KEY=%s\n",
                ShellQuote(JsonText(credentials, "secretAccessKey")).c_str());
    std::printf("export AWS_SESSION_TOKEN=%s\n", ShellQuote(token).c_str());
    std::printf("export XROLE_SESSION_TOKEN=%s\n", ShellQuote(token).c_str());
    std::printf("export XROLE_SESSION_ID=%s\n", ShellQuote(JsonText(result, "sessionId")).c_str());
    return kExitOk;
  }
  PrintSession(result);
  std::printf("\n");
  PrintTable({{"access key id:", JsonText(credentials, "accessKeyId")},
              {"secret access key:", JsonText(credentials, "secretAccessKey")},
              {"session token:", JsonText(credentials, "sessionToken")},
              {"expiration:", JsonText(credentials, "expiration")},
              {"audit record:", JsonText(result, "auditId")}});
  return kExitOk;
}

int RunRevoke(const ClientOptions& client_options, const RevokeOptions& options) {
  json body = json::object();
  if (!options.session_id.empty()) body["sessionId"] = options.session_id;
  if (!options.run_id.empty()) body["runId"] = options.run_id;
  if (!options.agent.empty()) body["agent"] = options.agent;
  if (!options.role.empty()) body["role"] = options.role;
  if (body.empty()) return UsageError("revoke: give --session, --run, --agent or --role");
  if (!options.reason.empty()) body["reason"] = options.reason;
  Client client(client_options);
  Reply reply = client.Call("POST", "/v1/revoke", body.dump());
  if (!reply.ok()) return client.Report(reply);
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
    return kExitOk;
  }
  json result = json::parse(reply.body, nullptr, false);
  std::int64_t revoked = result.value("revoked", std::int64_t{0});
  std::printf("%lld session%s revoked\n", static_cast<long long>(revoked), revoked == 1 ? "" : "s");
  return kExitOk;
}

}  // namespace xrole::cli
