// The CLI's HTTP transport: the one file that uses cpp-httplib.
#include <httplib.h>

#include <exception>

#include "cli/commands/client.h"

namespace xrole::cli {
namespace {

constexpr time_t kConnectTimeoutSeconds = 5;
constexpr time_t kReadTimeoutSeconds = 120;

std::string Describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "connection failed";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "the connection closed before an answer";
    case httplib::Error::Write:
      return "the request could not be sent";
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLLoadingCerts:
    case httplib::Error::SSLServerVerification:
      return "TLS handshake failed";
    default:
      return "transport error (" + httplib::to_string(error) + ")";
  }
}

}  // namespace

Result<HttpReply> SendHttpRequest(const std::string& server_url, const std::string& method,
                                  const std::string& target, const std::string& bearer,
                                  const std::string& body, const std::string& content_type) {
  // "http://host:port/prefix" -> client for "http://host:port", paths under "/prefix".
  std::size_t scheme_end = server_url.find("://");
  if (scheme_end == std::string::npos || (server_url.compare(0, scheme_end, "http") != 0 &&
                                          server_url.compare(0, scheme_end, "https") != 0)) {
    return Error(ErrorCode::kInvalidArgument,
                 "server URL `" + server_url + "` must start with http:// or https://");
  }
  std::size_t path_start = server_url.find('/', scheme_end + 3);
  std::string origin = server_url.substr(0, path_start);
  std::string prefix = path_start == std::string::npos ? "" : server_url.substr(path_start);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  try {
    httplib::Client client(origin);
    if (!client.is_valid()) {
      return Error(ErrorCode::kInvalidArgument, "server URL `" + server_url + "` is not usable");
    }
    client.set_connection_timeout(kConnectTimeoutSeconds, 0);
    client.set_read_timeout(kReadTimeoutSeconds, 0);
    client.set_write_timeout(kReadTimeoutSeconds, 0);
    httplib::Request request;
    request.method = method;
    request.path = prefix + target;
    request.set_header("Accept", "application/json");
    if (!bearer.empty()) request.set_header("Authorization", "Bearer " + bearer);
    if (method == "POST" || method == "PUT") {
      request.body = body;
      request.set_header("Content-Type", content_type);
    }
    httplib::Result result = client.send(request);
    if (!result) {
      return Error(ErrorCode::kUnavailable,
                   "no answer from the xrole server at " + server_url + ": " +
                       Describe(result.error()) +
                       " (is `xrole serve` running there? set --server or XROLE_SERVER)");
    }
    HttpReply reply;
    reply.status = result->status;
    reply.body = std::move(result->body);
    reply.content_type = result->get_header_value("Content-Type");
    return reply;
  } catch (const std::exception& e) {
    return Error(ErrorCode::kUnavailable,
                 "request to the xrole server at " + server_url + " failed: " + e.what());
  }
}

}  // namespace xrole::cli
