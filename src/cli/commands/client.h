// client.h: what every client command of `xrole` shares: where the server is, which credential
// to send, one call to the HTTP/JSON API (src/server/api.cc), and how failures are reported.
//
// Exit statuses of client commands: 0 success; 1 an operation the server refused (a 4xx
// answer) or a denied decision; 2 usage errors, transport errors and server failures (5xx);
// 3 an assume that waits for a human approval.
#ifndef XROLE_CLI_COMMANDS_CLIENT_H_
#define XROLE_CLI_COMMANDS_CLIENT_H_

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "session/objects.h"
#include "xrole/status.h"

namespace xrole::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitError = 2;
inline constexpr int kExitPending = 3;

// The options every client command takes. Empty strings fall back to the environment, then to
// the defaults: XROLE_SERVER or http://127.0.0.1:8600; XROLE_TOKEN or the admin token in
// DATA/admin.token, where DATA is `data_dir`, XROLE_DATA or ./xrole-data.
struct ClientOptions {
  std::string server;
  std::string token;
  std::string data_dir;
  std::string output = "text";  // "text" or "json" (the API's JSON, unchanged)
};

// ---- transport (http_client.cc, the only user of the HTTP library) ----

struct HttpReply {
  int status = 0;
  std::string body;
  std::string content_type;
};

// Sends one request to `server_url` ("http://HOST:PORT" or "https://...", optionally with a
// path prefix). `target` is the path and query. `bearer` ("" for none) goes in the
// Authorization header. Errors: kInvalidArgument for an unusable URL, kUnavailable when no
// answer came (connection refused, timeout), both naming the server.
Result<HttpReply> SendHttpRequest(const std::string& server_url, const std::string& method,
                                  const std::string& target, const std::string& bearer,
                                  const std::string& body, const std::string& content_type);

// ---- the API client ----

// The outcome of one call. `error` is set when no HTTP answer came (or no credential could be
// found); otherwise `status` and `body` are the server's.
struct Reply {
  int status = 0;
  std::string body;
  std::string error;

  bool ok() const { return error.empty() && status >= 200 && status < 300; }
};

class Client {
 public:
  // Resolves the server and output mode now, the credential when first needed.
  explicit Client(const ClientOptions& options);

  // One API call. `authenticate` sends the credential (the resolved token); without one, a
  // call that needs it fails with a message saying where the token is looked for.
  Reply Call(const std::string& method, const std::string& target, const std::string& body = "",
             bool authenticate = true, const std::string& content_type = "application/json");

  // Prints why `reply` failed to stderr as `xrole: CODE: MESSAGE (path P, line L, column C)`
  // (or the transport error, naming the server) and returns the exit status: 2 for transport
  // errors and 5xx answers, 1 for other answers.
  int Report(const Reply& reply) const;

  bool json_output() const { return json_output_; }
  const std::string& server() const { return server_; }
  // The data directory the admin token is read from.
  const std::string& data_dir() const { return data_dir_; }

 private:
  std::string server_;
  std::string explicit_token_;
  std::string data_dir_;
  bool json_output_ = false;
};

// ---- flags and output ----

// Prints `xrole: MESSAGE` to stderr and returns 2: for usage errors found before any call.
int UsageError(const std::string& message);

// "MESSAGE (path P, line L, column C)", the parts that are known: how a local error is shown,
// in the same shape as the server's.
std::string DescribeError(const Error& error);

// "k=v" items into a map. A repeated key keeps the last value. `flag` names the option in
// errors ("--tag").
Result<std::map<std::string, std::string>> ParseKeyValues(const std::vector<std::string>& items,
                                                          std::string_view flag);

// A duration flag ("900", "15m", "1h30m") in seconds; "" is 0 (the server's default).
Result<std::int64_t> ParseDurationFlag(const std::string& text, std::string_view flag);

// The whole content of a file, or of standard input for "-".
Result<std::string> ReadFileText(const std::string& path);

// The roles-as-code documents that `-f` arguments name, parsed (errors name the file and
// line): each path is a file, "-" for standard input, or a directory whose *.yaml, *.yml and
// *.json files (not recursive) are read in name order.
Result<std::vector<session::ObjectDocument>> ReadObjectDocuments(
    const std::vector<std::string>& paths);

// "15m", "1h", "1h30m", "45s" for a number of seconds.
std::string FormatSeconds(std::int64_t seconds);

// Percent-encodes a path segment or a query value.
std::string UrlEncode(std::string_view text);

// Prints rows as left-aligned columns separated by two spaces; the first row is the header.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

// A value quoted for POSIX shells when it needs it ('...' with embedded quotes escaped).
std::string ShellQuote(std::string_view value);

// A member of a JSON answer as text: strings as they are, other values as JSON, "" when absent.
std::string JsonText(const nlohmann::json& object, const char* key);

}  // namespace xrole::cli

#endif  // XROLE_CLI_COMMANDS_CLIENT_H_
