// Differential fuzzer of the authorize body: whenever the fast parse (simdjson) answers, the
// parse of record (nlohmann::json) must accept the body and read the same requests; the fast
// parse must leave the body unchanged. Any disagreement aborts.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/authorize_body.h"

namespace {

bool SameRequest(const xrole::session::AuthorizeRequest& a,
                 const xrole::session::AuthorizeRequest& b) {
  if (a.session_token != b.session_token || a.access_key_id != b.access_key_id ||
      a.action != b.action || a.resource != b.resource || a.explain != b.explain ||
      a.context.size() != b.context.size()) {
    return false;
  }
  for (const auto& [key, value] : a.context.values()) {
    const xrole::policy::ContextValue* other = b.context.Find(key);
    if (other == nullptr || other->is_list != value.is_list || other->values != value.values) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string body = text;
  std::optional<xrole::server::AuthorizeBody> fast = xrole::server::ParseAuthorizeBodyFast(body);
  if (body != text) std::abort();
  if (!fast) return 0;
  xrole::Result<xrole::server::AuthorizeBody> slow = xrole::server::ParseAuthorizeBody(text);
  if (!slow.ok() || slow->is_batch != fast->is_batch ||
      slow->requests.size() != fast->requests.size()) {
    std::abort();
  }
  for (std::size_t i = 0; i < fast->requests.size(); ++i) {
    if (!SameRequest(fast->requests[i], slow->requests[i])) std::abort();
  }
  return 0;
}
