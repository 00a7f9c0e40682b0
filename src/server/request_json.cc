#include "server/request_json.h"

#include <utility>

namespace xrole::server {

using nlohmann::json;

Result<json> ParseBody(const std::string& body) {
  if (body.empty()) return json::object();
  try {
    json parsed = json::parse(body);
    if (!parsed.is_object()) {
      return Error(ErrorCode::kInvalidArgument, "request body must be a JSON object");
    }
    return parsed;
  } catch (const json::parse_error& e) {
    return Error(ErrorCode::kInvalidArgument, "request body is not valid JSON at byte " +
                                                  std::to_string(e.byte) + ": " +
                                                  std::string(e.what()));
  }
}

Result<std::string> GetString(const json& body, const char* key, bool required) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required) {
      return Error(ErrorCode::kInvalidArgument, "`" + std::string(key) + "` is required", key);
    }
    return std::string();
  }
  if (!it->is_string()) {
    return Error(ErrorCode::kInvalidArgument, "`" + std::string(key) + "` must be a string", key);
  }
  return it->get<std::string>();
}

Result<std::int64_t> GetInt(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::int64_t{0};
  if (!it->is_number_integer()) {
    return Error(ErrorCode::kInvalidArgument, "`" + std::string(key) + "` must be an integer", key);
  }
  return it->get<std::int64_t>();
}

Result<std::vector<std::string>> GetStringList(const json& body, const char* key) {
  std::vector<std::string> out;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return out;
  auto wrong = [&] {
    return Error(ErrorCode::kInvalidArgument,
                 "`" + std::string(key) + "` must be an array of strings", key);
  };
  if (!it->is_array()) return wrong();
  for (const auto& item : *it) {
    if (!item.is_string()) return wrong();
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<std::map<std::string, std::string>> GetTags(const json& body, const char* key) {
  std::map<std::string, std::string> tags;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return tags;
  if (!it->is_object()) {
    return Error(ErrorCode::kInvalidArgument,
                 "`" + std::string(key) + "` must be an object of strings", key);
  }
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) {
      return Error(ErrorCode::kInvalidArgument, "tag `" + k + "` must be a string",
                   std::string(key) + "." + k);
    }
    tags[k] = v.get<std::string>();
  }
  return tags;
}

std::string ScalarText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

Result<policy::Context> GetContext(const json& body, const std::string& path) {
  policy::Context context;
  auto it = body.find("context");
  if (it == body.end() || it->is_null()) return context;
  if (!it->is_object()) {
    return Error(ErrorCode::kInvalidArgument, "`context` must be an object", path + "context");
  }
  for (const auto& [key, value] : it->items()) {
    if (value.is_array()) {
      std::vector<std::string> values;
      for (const auto& v : value) {
        if (v.is_object() || v.is_array() || v.is_null()) {
          return Error(ErrorCode::kInvalidArgument, "context values must be scalars",
                       path + "context." + key);
        }
        values.push_back(ScalarText(v));
      }
      context.Set(key, policy::ContextValue::List(std::move(values)));
    } else if (value.is_object() || value.is_null()) {
      return Error(ErrorCode::kInvalidArgument,
                   "context values must be strings, numbers, booleans or arrays of them",
                   path + "context." + key);
    } else {
      context.Set(key, policy::ContextValue::Scalar(ScalarText(value)));
    }
  }
  return context;
}

}  // namespace xrole::server
