// crypto.h: the few cryptographic primitives xrole uses, all from OpenSSL 3's libcrypto:
// SHA-256, HMAC-SHA-256, a CSPRNG, constant-time comparison, base64/base64url/hex codecs and
// Ed25519 signatures. Nothing here allocates keys on disk; callers decide where keys live.
#ifndef XROLE_COMMON_CRYPTO_H_
#define XROLE_COMMON_CRYPTO_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "xrole/status.h"

namespace xrole::crypto {

using Digest = std::array<std::uint8_t, 32>;

Digest Sha256(std::string_view data);
std::string Sha256Hex(std::string_view data);  // lower-case hex
Digest HmacSha256(std::string_view key, std::string_view data);

// `count` bytes from OpenSSL's CSPRNG. Aborts the process if the CSPRNG fails (nothing
// sensible can continue without randomness).
std::string RandomBytes(std::size_t count);

// Constant-time equality (the comparison time depends only on the lengths).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

std::string HexEncode(std::string_view bytes);
Result<std::string> HexDecode(std::string_view hex);
std::string Base64Encode(std::string_view bytes);  // standard alphabet, padded
Result<std::string> Base64Decode(std::string_view text);
std::string Base64UrlEncode(std::string_view bytes);  // URL-safe alphabet, unpadded
Result<std::string> Base64UrlDecode(std::string_view text);
// Upper-case RFC 4648 base32 without padding, used for AWS-style access key ids.
std::string Base32Encode(std::string_view bytes);

// An Ed25519 key pair. Movable, not copyable; thread-safe for concurrent Sign.
class Ed25519PrivateKey {
 public:
  static Ed25519PrivateKey Generate();
  // From the 32-byte raw private key (RFC 8032 seed).
  static Result<Ed25519PrivateKey> FromRaw(std::string_view raw32);
  // From a PKCS#8 PEM text, as written by ToPem().
  static Result<Ed25519PrivateKey> FromPem(std::string_view pem);

  Ed25519PrivateKey(Ed25519PrivateKey&&) noexcept;
  Ed25519PrivateKey& operator=(Ed25519PrivateKey&&) noexcept;
  ~Ed25519PrivateKey();

  std::string ToPem() const;
  std::string PublicKeyRaw() const;                  // 32 bytes
  std::string Sign(std::string_view message) const;  // 64-byte signature

 private:
  struct Impl;
  explicit Ed25519PrivateKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Verifies a 64-byte Ed25519 `signature` of `message` under the 32-byte raw `public_key`.
bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature);

}  // namespace xrole::crypto

#endif  // XROLE_COMMON_CRYPTO_H_
