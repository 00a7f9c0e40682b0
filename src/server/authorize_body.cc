#include "server/authorize_body.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <utility>

#include "server/request_json.h"

namespace xrole::server {
namespace {

using nlohmann::json;
namespace od = simdjson::ondemand;

Result<session::AuthorizeRequest> ParseOneRequest(const json& item, const std::string& path) {
  session::AuthorizeRequest r;
  if (!item.is_object()) {
    return Error(ErrorCode::kInvalidArgument, "each request must be an object", path);
  }
  XROLE_ASSIGN_OR_RETURN(r.session_token, GetString(item, "sessionToken"));
  XROLE_ASSIGN_OR_RETURN(r.access_key_id, GetString(item, "accessKeyId"));
  XROLE_ASSIGN_OR_RETURN(r.action, GetString(item, "action", true));
  XROLE_ASSIGN_OR_RETURN(r.resource, GetString(item, "resource"));
  XROLE_ASSIGN_OR_RETURN(r.context, GetContext(item, path));
  auto explain = item.find("explain");
  r.explain = explain != item.end() && explain->is_boolean() && explain->get<bool>();
  if (r.action.find(':') == std::string::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 "`action` must be `service:Action`, got `" + r.action + "`", path + "action");
  }
  return r;
}

// --- The fast parse. Every helper answers false for "not sure": the caller then falls back. ---

// The text of a string value that needs no unescaping: its raw token holds no backslash and no
// control character (which the parse of record rejects). UTF-8 validity is simdjson's check of
// the whole document.
bool ReadPlainString(od::value& value, std::string* out) {
  const std::string_view raw = value.raw_json_token();
  if (raw.size() < 2 || raw.front() != '"') return false;
  const std::size_t close = raw.find('"', 1);
  if (close == std::string_view::npos) return false;
  const std::string_view text = raw.substr(1, close - 1);
  for (const char c : text) {
    if (c == '\\' || static_cast<unsigned char>(c) < 0x20) return false;
  }
  // Consumed through simdjson, which then checks what follows the string: a skipped value
  // would be skipped leniently. Without escapes its text is the raw text.
  std::string_view value_text;
  if (value.get_string().get(value_text) != simdjson::SUCCESS) return false;
  out->assign(value_text);
  return true;
}

// The name of a member when it needs no unescaping (else false): read from the input itself.
// simdjson has found the closing quote of every string, so the scan ends inside the input.
bool ReadPlainKey(od::field& field, std::string_view* key) {
  const char* start = field.key().raw();
  const char* end = start;
  while (*end != '"') {
    if (*end == '\\' || static_cast<unsigned char>(*end) < 0x20) return false;
    ++end;
  }
  *key = std::string_view(start, static_cast<std::size_t>(end - start));
  return true;
}

// A string member, or null (which the parse of record treats as absent).
bool ReadStringMember(od::value& value, std::string* out) {
  od::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) return false;
  if (type == od::json_type::null) {
    bool is_null = false;
    if (value.is_null().get(is_null) != simdjson::SUCCESS || !is_null) return false;
    out->clear();
    return true;
  }
  return type == od::json_type::string && ReadPlainString(value, out);
}

// A context scalar the fast parse takes: a plain string or a boolean. Numbers are left to the
// parse of record, whose number formatting the context text must match.
bool ReadContextScalar(od::value& value, std::string* out) {
  od::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) return false;
  if (type == od::json_type::boolean) {
    bool flag = false;
    if (value.get_bool().get(flag) != simdjson::SUCCESS) return false;
    *out = flag ? "true" : "false";
    return true;
  }
  return type == od::json_type::string && ReadPlainString(value, out);
}

bool ReadContext(od::value& value, policy::Context* context) {
  od::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) return false;
  std::vector<std::pair<std::string, policy::ContextValue>> members;
  for (auto field_result : object) {
    od::field field;
    std::string_view key;
    if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
    if (!ReadPlainKey(field, &key)) return false;
    od::value member = field.value();
    od::json_type type;
    if (member.type().get(type) != simdjson::SUCCESS) return false;
    policy::ContextValue context_value;
    if (type == od::json_type::array) {
      od::array array;
      if (member.get_array().get(array) != simdjson::SUCCESS) return false;
      context_value.is_list = true;
      for (auto element_result : array) {
        od::value element;
        if (std::move(element_result).get(element) != simdjson::SUCCESS) return false;
        if (!ReadContextScalar(element, &context_value.values.emplace_back())) return false;
      }
    } else {
      if (!ReadContextScalar(member, &context_value.values.emplace_back())) return false;
    }
    members.emplace_back(std::string(key), std::move(context_value));
  }
  // The parse of record sets keys in byte order (a std::map), so when two keys differ only in
  // case the later in that order wins; repeated keys are left to it.
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 1; i < members.size(); ++i) {
    if (members[i].first == members[i - 1].first) return false;
  }
  for (auto& [key, context_value] : members) context->Set(key, std::move(context_value));
  return true;
}

// Which members a request object has held so far (each at most once).
enum RequestMember : unsigned {
  kToken = 1,
  kKeyId = 2,
  kAction = 4,
  kResource = 8,
  kContext = 16,
  kExplain = 32,
};

bool ReadRequestMember(std::string_view key, od::value& value, session::AuthorizeRequest* request,
                       unsigned* seen) {
  RequestMember member;
  bool ok = false;
  if (key == "sessionToken") {
    member = kToken, ok = ReadStringMember(value, &request->session_token);
  } else if (key == "accessKeyId") {
    member = kKeyId, ok = ReadStringMember(value, &request->access_key_id);
  } else if (key == "action") {
    member = kAction, ok = ReadStringMember(value, &request->action);
  } else if (key == "resource") {
    member = kResource, ok = ReadStringMember(value, &request->resource);
  } else if (key == "context") {
    member = kContext, ok = ReadContext(value, &request->context);
  } else if (key == "explain") {
    member = kExplain, ok = value.get_bool().get(request->explain) == simdjson::SUCCESS;
  } else {
    return false;
  }
  if (!ok || (*seen & member) != 0) return false;
  *seen |= member;
  return true;
}

// The parse of record answers the errors: a missing action or one without a service.
bool IsComplete(const session::AuthorizeRequest& request) {
  return request.action.find(':') != std::string::npos;
}

bool ReadRequest(od::object& object, session::AuthorizeRequest* request) {
  unsigned seen = 0;
  for (auto field_result : object) {
    od::field field;
    std::string_view key;
    if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
    if (!ReadPlainKey(field, &key)) return false;
    if (!ReadRequestMember(key, field.value(), request, &seen)) return false;
  }
  return IsComplete(*request);
}

bool ReadBatch(od::value& value, AuthorizeBody* body) {
  od::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) return false;
  for (auto element_result : array) {
    od::object object;
    if (element_result.get_object().get(object) != simdjson::SUCCESS) return false;
    if (body->requests.size() == kMaxAuthorizeBatch) return false;
    if (!ReadRequest(object, &body->requests.emplace_back())) return false;
  }
  return !body->requests.empty();
}

}  // namespace

Result<AuthorizeBody> ParseAuthorizeBody(const std::string& text) {
  XROLE_ASSIGN_OR_RETURN(json body, ParseBody(text));
  AuthorizeBody parsed;
  auto batch = body.find("requests");
  parsed.is_batch = batch != body.end();
  if (!parsed.is_batch) {
    XROLE_ASSIGN_OR_RETURN(auto request, ParseOneRequest(body, ""));
    parsed.requests.push_back(std::move(request));
    return parsed;
  }
  if (!batch->is_array() || batch->empty() || batch->size() > kMaxAuthorizeBatch) {
    return Error(ErrorCode::kInvalidArgument, "`requests` must be an array of 1 to 1000 requests",
                 "requests");
  }
  for (std::size_t i = 0; i < batch->size(); ++i) {
    XROLE_ASSIGN_OR_RETURN(auto request,
                           ParseOneRequest((*batch)[i], "requests[" + std::to_string(i) + "]."));
    parsed.requests.push_back(std::move(request));
  }
  return parsed;
}

std::optional<AuthorizeBody> ParseAuthorizeBodyFast(std::string& text) {
  if (text.empty()) return std::nullopt;
  text.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  thread_local od::parser parser;
  od::document document;
  if (parser.iterate(simdjson::padded_string_view(text.data(), text.size(), text.capacity()))
          .get(document) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  od::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) return std::nullopt;
  // {"requests": [...]} with no other member is the batch form; anything else is one request.
  AuthorizeBody body;
  session::AuthorizeRequest single;
  unsigned seen = 0;
  bool batch = false;
  for (auto field_result : object) {
    od::field field;
    std::string_view key;
    if (std::move(field_result).get(field) != simdjson::SUCCESS) return std::nullopt;
    if (!ReadPlainKey(field, &key)) return std::nullopt;
    if (key == "requests") {
      if (batch || seen != 0) return std::nullopt;
      od::value value = field.value();
      if (!ReadBatch(value, &body)) return std::nullopt;
      batch = true;
    } else if (batch || !ReadRequestMember(key, field.value(), &single, &seen)) {
      return std::nullopt;
    }
  }
  // Nothing may follow the object: past its end the document has no current location.
  if (document.current_location().error() != simdjson::OUT_OF_BOUNDS) return std::nullopt;
  if (batch) {
    body.is_batch = true;
    return body;
  }
  if (!IsComplete(single)) return std::nullopt;
  body.requests.push_back(std::move(single));
  return body;
}

}  // namespace xrole::server
