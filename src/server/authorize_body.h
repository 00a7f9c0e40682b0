// authorize_body.h: the body of POST /v1/authorize, one request or a batch:
//   {"sessionToken"|"accessKeyId", "action", "resource"?, "context"?, "explain"?}
//   {"requests": [<up to 1000 of those>]}
// ParseAuthorizeBody is the parse of record (nlohmann::json): it accepts every valid body and
// gives each error with its JSON path. ParseAuthorizeBodyFast (simdjson On-Demand) serves the
// hot path without building a DOM; it reads only the shapes it recognises and answers nullopt
// for anything else, valid or not, so the caller then asks ParseAuthorizeBody. Whenever the fast
// parse answers, the parse of record gives the same requests (authorize_body_test.cc and
// fuzz/authorize_body_fuzzer.cc hold the two to that).
#ifndef XROLE_SERVER_AUTHORIZE_BODY_H_
#define XROLE_SERVER_AUTHORIZE_BODY_H_

#include <optional>
#include <string>
#include <vector>

#include "session/broker.h"
#include "xrole/status.h"

namespace xrole::server {

inline constexpr std::size_t kMaxAuthorizeBatch = 1000;

struct AuthorizeBody {
  bool is_batch = false;  // the {"requests": [...]} form
  std::vector<session::AuthorizeRequest> requests;
};

Result<AuthorizeBody> ParseAuthorizeBody(const std::string& body);

// May grow `body`'s capacity (simdjson reads up to 64 bytes past the end); never its contents.
std::optional<AuthorizeBody> ParseAuthorizeBodyFast(std::string& body);

}  // namespace xrole::server

#endif  // XROLE_SERVER_AUTHORIZE_BODY_H_
