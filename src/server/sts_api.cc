#include "server/sts_api.h"

#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/strings.h"
#include "sts/protocol.h"
#include "sts/sigv4.h"

namespace xrole::server {
namespace {

constexpr std::string_view kFormContentType = "application/x-www-form-urlencoded";

// A fresh request id in AWS's shape: a random (version 4) UUID.
std::string NewRequestId() {
  std::string bytes = crypto::RandomBytes(16);
  bytes[6] = static_cast<char>((bytes[6] & 0x0f) | 0x40);
  bytes[8] = static_cast<char>((bytes[8] & 0x3f) | 0x80);
  std::string hex = crypto::HexEncode(bytes);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

HttpResponse XmlResponse(int status, std::string body, const std::string& request_id) {
  HttpResponse response;
  response.status = status;
  response.content_type = std::string(sts::kXmlContentType);
  response.body = std::move(body);
  response.headers.emplace_back("x-amzn-RequestId", request_id);
  return response;
}

HttpResponse StsErrorResponse(const sts::StsError& error, const std::string& request_id) {
  return XmlResponse(sts::HttpStatusForStsError(error.code),
                     sts::WriteErrorResponse(error, request_id), request_id);
}

bool IsRootPath(std::string_view path) { return path.empty() || path == "/"; }

// The query names an Action (a presigned STS call) when one of its parameters is `Action`.
bool QueryNamesAction(std::string_view query) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.substr(0, pair.find('=')) == "Action") return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

}  // namespace

bool IsStsRequest(const HttpRequest& request) {
  if (!IsRootPath(request.path)) return false;
  if (request.method == "POST") {
    const std::string* content_type = request.Header("content-type");
    return content_type != nullptr && StartsWithIgnoreCase(*content_type, kFormContentType);
  }
  return request.method == "GET" && QueryNamesAction(request.query);
}

HttpResponse HandleStsRequest(session::Broker& broker, const HttpRequest& request) {
  const std::string request_id = NewRequestId();
  sts::SignedRequestView view;
  view.method = request.method;
  view.path = request.path.empty() ? std::string_view("/") : std::string_view(request.path);
  view.query = request.query;
  view.headers = request.headers;
  view.body = request.body;

  // Authentication first: nothing about the request is answered to an unauthenticated caller.
  // Rejections are audited by the broker.
  auto principal = broker.AuthenticateSigV4(view);
  if (!principal.ok()) return StsErrorResponse(principal.error(), request_id);

  session::StsCallRecord call;
  call.request_id = request_id;
  // Records the call's outcome; an answer is sent only once its record is durable.
  auto finish = [&](HttpResponse response, const sts::StsError* error) -> HttpResponse {
    if (error != nullptr) {
      call.error_code = error->code;
      call.error_message = error->message;
    }
    auto recorded = broker.RecordStsCall(*principal, call);
    if (!recorded.ok()) {
      return StsErrorResponse({"ServiceUnavailable",
                               "the request could not be recorded in the audit log; try again "
                               "later",
                               ""},
                              request_id);
    }
    return response;
  };
  auto fail = [&](const sts::StsError& error) {
    return finish(StsErrorResponse(error, request_id), &error);
  };

  // The parameters: the form body of a POST (or its query string when the body is empty, as
  // AWS also accepts), the query string of a presigned GET.
  std::string_view form = request.body;
  if (request.method != "POST" || (form.empty() && !request.query.empty())) form = request.query;
  auto query = sts::ParseQueryRequest(form);
  if (!query.ok()) return fail(query.error());
  call.action = query->action;

  if (query->action == "GetCallerIdentity") {
    return finish(
        XmlResponse(200, sts::WriteGetCallerIdentityResponse(principal->identity, request_id),
                    request_id),
        nullptr);
  }
  if (query->action == "AssumeRole") {
    auto parameters = sts::ParseAssumeRole(query->params);
    if (!parameters.ok()) return fail(parameters.error());
    call.role_arn = parameters->role_arn;
    auto assumed = broker.StsAssumeRole(*principal, *parameters, &call.session_id);
    if (!assumed.ok()) return fail(assumed.error());
    return finish(XmlResponse(200, sts::WriteAssumeRoleResponse(*assumed, request_id), request_id),
                  nullptr);
  }
  return fail({"InvalidAction",
               "Could not find operation " + query->action + " for version " +
                   std::string(sts::kStsApiVersion),
               ""});
}

}  // namespace xrole::server
