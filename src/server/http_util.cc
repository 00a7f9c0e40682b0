// http_util.cc: the parts of http.h that do not need the HTTP stack.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "server/http.h"

namespace xrole::server {

const std::string* HttpRequest::Header(std::string_view name_lower) const {
  for (const auto& [name, value] : headers) {
    if (name == name_lower) return &value;
  }
  return nullptr;
}

HttpResponse JsonError(int status, std::string_view code, std::string_view message) {
  const nlohmann::json error = {
      {"error", {{"code", std::string(code)}, {"message", std::string(message)}}}};
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  // Messages may quote user input; invalid UTF-8 is replaced rather than thrown on.
  response.body = error.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

}  // namespace xrole::server
