#include "server/credentials_api.h"

#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/strings.h"
#include "session/records.h"
#include "session/session_reuse.h"
#include "sts/protocol.h"

namespace xrole::server {
namespace {

using nlohmann::json;

constexpr std::string_view kContainerPath = "/v1/credentials/container";

HttpResponse JsonAnswer(int status, const json& body) {
  HttpResponse response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return response;
}

// The JSON API's error shape, with the status the JSON API gives the same error.
HttpResponse ErrorAnswer(const Error& error) {
  json body = {{"code", std::string(ErrorCodeName(error.code()))}, {"message", error.message()}};
  if (!error.path().empty()) body["path"] = error.path();
  return JsonAnswer(session::HttpStatusFor(error.code()), {{"error", body}});
}

Error InvalidQuery(std::string message, std::string parameter) {
  return Error(ErrorCode::kInvalidArgument, std::move(message), std::move(parameter));
}

// The assume a fetch asks for, from the query: role (required), runId (required unless the
// caller is a run's key), sessionName and durationSeconds (optional). Unknown parameters are
// refused, so a misspelt one is noticed.
Result<session::AssumeRequest> ParseFetch(std::string_view query) {
  auto form = sts::ParseForm(query);
  if (!form.ok()) return InvalidQuery("malformed query string: " + form.error().message, "");
  session::AssumeRequest assume;
  std::string duration_text;
  for (const auto& [name, value] : form->fields) {
    if (name == "role") {
      assume.role = value;
    } else if (name == "runId") {
      assume.run_id = value;
    } else if (name == "sessionName") {
      assume.session_name = value;
    } else if (name == "durationSeconds") {
      duration_text = value;
    } else {
      return InvalidQuery("unknown query parameter `" + name +
                              "` (expected role, runId, sessionName, durationSeconds)",
                          name);
    }
  }
  if (assume.role.empty()) {
    return InvalidQuery("the query parameter `role` is required: " + std::string(kContainerPath) +
                            "?role=ROLE&runId=RUN_ID",
                        "role");
  }
  assume.duration_seconds = session::kProviderSessionSeconds;
  if (!duration_text.empty()) {
    std::int64_t seconds = 0;
    const char* end = duration_text.data() + duration_text.size();
    auto [ptr, ec] = std::from_chars(duration_text.data(), end, seconds);
    if (ec != std::errc() || ptr != end || seconds <= 0) {
      return InvalidQuery(
          "`durationSeconds` must be a positive integer, got `" + duration_text + "`",
          "durationSeconds");
    }
    assume.duration_seconds = seconds;
  }
  assume.reuse = true;
  assume.find_matching_approval = true;
  return assume;
}

}  // namespace

bool IsContainerCredentialsRequest(const HttpRequest& request) {
  return request.path == kContainerPath;
}

HttpResponse HandleContainerCredentials(session::Broker& broker, const HttpRequest& request) {
  if (request.method != "GET") {
    return JsonError(405, "method_not_allowed",
                     std::string(kContainerPath) +
                         " answers GET only (the AWS SDKs' container "
                         "credentials fetch)");
  }
  auto fetch = ParseFetch(request.query);
  if (!fetch.ok()) return ErrorAnswer(fetch.error());

  // AWS_CONTAINER_AUTHORIZATION_TOKEN arrives verbatim: "Bearer X" or a bare X.
  const std::string* header = request.Header("authorization");
  if (header == nullptr || header->empty()) {
    return ErrorAnswer(Error(ErrorCode::kUnauthenticated,
                             "missing Authorization header: set AWS_CONTAINER_AUTHORIZATION_TOKEN "
                             "to the run's or the agent's key ACCESS_KEY_ID:SECRET"));
  }
  std::string authorization =
      StartsWithIgnoreCase(*header, "Bearer ") ? *header : "Bearer " + *header;
  auto caller = broker.Authenticate(authorization);
  if (!caller.ok()) return ErrorAnswer(caller.error());
  if (fetch->run_id.empty()) {
    if (caller->kind != session::Caller::Kind::kRun) {
      return ErrorAnswer(
          InvalidQuery("the query parameter `runId` is required with an agent's "
                       "key: " +
                           std::string(kContainerPath) + "?role=ROLE&runId=RUN_ID",
                       "runId"));
    }
    fetch->run_id = caller->name;
  }

  auto assumed = broker.Assume(*caller, *fetch);
  if (!assumed.ok()) return ErrorAnswer(assumed.error());
  if (assumed->pending) {
    return JsonAnswer(
        403, {{"error",
               {{"code", "approval_pending"},
                {"message", "role `" + fetch->role + "` requires a human approval: approval " +
                                assumed->approval_id + " is pending (`xrole approve " +
                                assumed->approval_id +
                                "`); the next credential fetch after it is "
                                "approved succeeds"},
                {"approvalId", assumed->approval_id}}}});
  }
  const session::Credentials& credentials = assumed->credentials;
  return JsonAnswer(200, {{"AccessKeyId", credentials.access_key_id},
                          {"SecretAccessKey", credentials.secret_access_key},
                          {"Token", credentials.session_token},
                          {"Expiration", session::Iso8601(credentials.expiration)},
                          {"RoleArn", assumed->session.role_arn}});
}

}  // namespace xrole::server
