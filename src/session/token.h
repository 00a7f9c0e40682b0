// token.h: xrole session tokens. A token is "xrt1.<payload>.<signature>", both parts
// base64url without padding; the payload is a compact JSON object of the claims below and
// the signature is Ed25519 over the bytes "xrt1." + payload-part under the key named by
// "kid". Enforcement points verify tokens offline with the public keys from GET /v1/keys;
// the broker also checks revocation. Tokens carry no secrets.
#ifndef XROLE_SESSION_TOKEN_H_
#define XROLE_SESSION_TOKEN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "xrole/status.h"

namespace xrole::session {

struct TokenClaims {
  std::string key_id;           // "kid"
  std::string session_id;       // "sid"
  std::string role;             // "role"
  std::string run_id;           // "run"
  std::string agent;            // "agt"
  std::string access_key_id;    // "akid"
  std::string policy_hash;      // "ph": hash of the role version and session policy in force
  std::int64_t issued_at = 0;   // "iat", epoch seconds
  std::int64_t expires_at = 0;  // "exp", epoch seconds

  bool operator==(const TokenClaims&) const = default;
};

std::string IssueToken(const TokenClaims& claims, const crypto::Ed25519PrivateKey& key);

// Returns the raw public key for a key id, or nullptr when unknown.
using PublicKeyLookup = std::function<const std::string*(std::string_view key_id)>;

// Checks shape, key id, signature and expiry (at `now_s`, epoch seconds), in that order.
// Errors: kUnauthenticated ("malformed token ...", "unknown signing key `kid`", "token
// signature does not verify"), kExpired ("token expired at ...").
Result<TokenClaims> VerifyToken(std::string_view token, const PublicKeyLookup& lookup,
                                std::int64_t now_s);

}  // namespace xrole::session

#endif  // XROLE_SESSION_TOKEN_H_
