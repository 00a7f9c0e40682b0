// `xrole credential-process`: the AWS SDKs' `credential_process` provider. An SDK runs it
// whenever its credentials are missing or within 15 minutes of expiring, reads one JSON object
// from stdout, and on a non-zero exit quotes stderr in its error. Each run is one
// POST /v1/sessions with `reuse`, so repeated runs hand back the session already issued
// (docs/sdk-credentials.md) instead of minting one per SDK call.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands/client_commands.h"
#include "session/session_reuse.h"

namespace xrole::cli {

int RunCredentialProcess(const ClientOptions& client_options,
                         const CredentialProcessOptions& options) {
  using nlohmann::json;
  auto duration = ParseDurationFlag(options.duration, "--duration");
  if (!duration.ok()) return UsageError("credential-process: " + duration.error().message());
  json body = {{"role", options.role},
               {"runId", options.run_id},
               {"durationSeconds", *duration > 0 ? *duration : session::kProviderSessionSeconds},
               {"reuse", true}};
  if (!options.session_name.empty()) body["sessionName"] = options.session_name;
  if (!options.policy_file.empty()) {
    auto policy = ReadFileText(options.policy_file);
    if (!policy.ok()) {
      return UsageError("credential-process: --policy-file: " + policy.error().message());
    }
    body["policy"] = *policy;
  }

  Client client(client_options);
  Reply reply = client.Call("POST", "/v1/sessions", body.dump());
  if (!reply.ok()) return client.Report(reply);
  json result = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (reply.status == 202) {
    std::string approval = result.is_object() ? JsonText(result, "approvalId") : "";
    std::fprintf(stderr,
                 "xrole: approval required: role `%s` needs a human approval; request %s is "
                 "pending. Once a human runs `xrole approve %s`, the next credential fetch "
                 "succeeds\n",
                 options.role.c_str(), approval.c_str(), approval.c_str());
    return kExitPending;
  }
  json credentials = result.is_object() ? result.value("credentials", json::object()) : json();
  std::string access_key_id = JsonText(credentials, "accessKeyId");
  std::string secret = JsonText(credentials, "secretAccessKey");
  std::string token = JsonText(credentials, "sessionToken");
  std::string expiration = JsonText(credentials, "expiration");
  if (access_key_id.empty() || secret.empty() || token.empty() || expiration.empty()) {
    std::fprintf(stderr, "xrole: the server at %s answered without session credentials\n",
                 client.server().c_str());
    return kExitError;
  }
  // Member order as the SDK documentation shows it; `SessionToken` (not `Token`) is the key
  // credential_process reads.
  nlohmann::ordered_json out = {{"Version", 1},
                                {"AccessKeyId", access_key_id},
                                {"SecretAccessKey", secret},
                                {"SessionToken", token},
                                {"Expiration", expiration}};
  std::printf("%s\n", out.dump().c_str());
  return kExitOk;
}

}  // namespace xrole::cli
