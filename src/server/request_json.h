// request_json.h: reading JSON request bodies of the HTTP API with nlohmann::json. Every
// reader returns an error value that names the offending member (its JSON path), never throws.
#ifndef XROLE_SERVER_REQUEST_JSON_H_
#define XROLE_SERVER_REQUEST_JSON_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xrole/policy.h"
#include "xrole/status.h"

namespace xrole::server {

// Parses a JSON object body. An empty body is an empty object; anything else that is not one
// JSON object is an error giving the byte where parsing stopped.
Result<nlohmann::json> ParseBody(const std::string& body);

// Typed member readers: an absent (or null) member gives the default; a member of the wrong
// type is an error naming it.
Result<std::string> GetString(const nlohmann::json& body, const char* key, bool required = false);
Result<std::int64_t> GetInt(const nlohmann::json& body, const char* key);
Result<std::vector<std::string>> GetStringList(const nlohmann::json& body, const char* key);
Result<std::map<std::string, std::string>> GetTags(const nlohmann::json& body, const char* key);

// A context value as the policy engine compares it: strings as themselves, booleans as
// "true"/"false", numbers as nlohmann writes them.
std::string ScalarText(const nlohmann::json& value);

// The optional "context" member of `body`: scalars and arrays of scalars. `path` prefixes the
// JSON path in errors ("requests[2]." inside a batch).
Result<policy::Context> GetContext(const nlohmann::json& body, const std::string& path);

}  // namespace xrole::server

#endif  // XROLE_SERVER_REQUEST_JSON_H_
