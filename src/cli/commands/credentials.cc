// `xrole agent|human credentials|rotate` and `xrole keys`: principals' access keys and the
// server's signing keys.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands/client_commands.h"

namespace xrole::cli {
using nlohmann::json;

int RunIssueCredentials(const ClientOptions& client_options, const std::string& kind,
                        const std::string& name, bool rotate) {
  Client client(client_options);
  std::string target = std::string(kind == "agent" ? "/v1/agents/" : "/v1/humans/") +
                       UrlEncode(name) + (rotate ? "/rotate" : "/credentials");
  Reply reply = client.Call("POST", target);
  if (!reply.ok()) return client.Report(reply);
  std::fprintf(stderr,
               "xrole: warning: the secret access key is shown only now and cannot be shown "
               "again; store it safely%s\n",
               rotate ? " (the principal's previous keys no longer work)" : "");
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
    return kExitOk;
  }
  json key = json::parse(reply.body, nullptr, false);
  PrintTable({{"principal:", JsonText(key, "principal")},
              {"access key id:", JsonText(key, "accessKeyId")},
              {"secret access key:", JsonText(key, "secretAccessKey")}});
  std::printf("\n# to call xrole as %s:\nexport XROLE_TOKEN=%s\n",
              JsonText(key, "principal").c_str(), ShellQuote(JsonText(key, "bearerToken")).c_str());
  return kExitOk;
}

int RunKeys(const ClientOptions& client_options, bool rotate) {
  Client client(client_options);
  Reply reply = rotate ? client.Call("POST", "/v1/keys/rotate")
                       : client.Call("GET", "/v1/keys", "", /*authenticate=*/false);
  if (!reply.ok()) return client.Report(reply);
  if (client.json_output()) {
    std::printf("%s\n", reply.body.c_str());
    return kExitOk;
  }
  json result = json::parse(reply.body, nullptr, false);
  if (rotate) {
    std::printf("new signing key: %s (earlier keys keep verifying)\n",
                JsonText(result, "keyId").c_str());
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"KEY ID", "ALGORITHM", "STATUS", "PUBLIC KEY"}};
  for (const auto& key : result.value("keys", json::array())) {
    rows.push_back({JsonText(key, "keyId"), JsonText(key, "algorithm"),
                    key.value("active", false) ? "signing" : "verify only",
                    JsonText(key, "publicKey")});
  }
  PrintTable(rows);
  std::printf("token format: %s\n", JsonText(result, "tokenFormat").c_str());
  return kExitOk;
}

}  // namespace xrole::cli
