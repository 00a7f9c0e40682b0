// token_fuzzer: session-token verification on arbitrary input. VerifyToken must never crash,
// and must never accept a token other than one the key signed: the input is both tried as a
// token on its own and used to change one byte of a genuine token, which must then fail.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/crypto.h"
#include "session/token.h"

namespace {

const xrole::crypto::Ed25519PrivateKey& Key() {
  static auto* key =
      new xrole::crypto::Ed25519PrivateKey(xrole::crypto::Ed25519PrivateKey::Generate());
  return *key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using xrole::session::TokenClaims;
  static const std::string public_key = Key().PublicKeyRaw();
  auto lookup = [](std::string_view kid) -> const std::string* {
    return kid == "k-fuzz" ? &public_key : nullptr;
  };
  std::string input(reinterpret_cast<const char*>(data), size);
  auto verified = xrole::session::VerifyToken(input, lookup, 1000);
  if (verified.ok()) std::abort();  // nothing but the key's own signatures can verify

  TokenClaims claims;
  claims.key_id = "k-fuzz";
  claims.session_id = "ses-1";
  claims.role = "r";
  claims.run_id = "run-1";
  claims.agent = "a";
  claims.access_key_id = "ASIAEXAMPLE";
  claims.policy_hash = "ph";
  claims.issued_at = 1;
  claims.expires_at = 2000;
  static const std::string genuine = xrole::session::IssueToken(claims, Key());
  if (size < 2) return 0;
  std::string changed = genuine;
  std::size_t at = (std::size_t{data[0]} << 8 | data[1]) % changed.size();
  char replacement = size > 2 ? static_cast<char>(data[2]) : 'A';
  if (changed[at] == replacement) return 0;
  changed[at] = replacement;
  // Every token has exactly one encoding (the base64url decoder rejects non-zero padding bits),
  // so no changed byte may verify.
  if (xrole::session::VerifyToken(changed, lookup, 1000).ok()) std::abort();
  return 0;
}
