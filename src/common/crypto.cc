#include "common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace xrole::crypto {
namespace {

constexpr std::size_t kEd25519KeySize = 32;
constexpr std::size_t kEd25519SignatureSize = 64;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

unsigned char* MutableBytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// Failures that can only mean a broken libcrypto (allocation failure, missing provider).
[[noreturn]] void Fatal(const char* what) {
  std::fprintf(stderr, "xrole: fatal: %s failed (OpenSSL error %lu)\n", what, ERR_get_error());
  std::abort();
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* pkey) const { EVP_PKEY_free(pkey); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

Error InvalidEncoding(std::string_view encoding, std::string_view problem) {
  ERR_clear_error();
  return Error(ErrorCode::kInvalidArgument,
               "invalid " + std::string(encoding) + ": " + std::string(problem));
}

// Value of a base64 digit in `alphabet` order, or -1.
int Base64DigitValue(char c, bool url_safe) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url_safe ? '-' : '+')) return 62;
  if (c == (url_safe ? '_' : '/')) return 63;
  return -1;
}

std::string Base64EncodeWith(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[i])) << 16 |
                            static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[i + 1]))
                                << 8 |
                            static_cast<std::uint8_t>(bytes[i + 2]);
    out += alphabet[n >> 18 & 63];
    out += alphabet[n >> 12 & 63];
    out += alphabet[n >> 6 & 63];
    out += alphabet[n & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[i + 1])) << 8;
    out += alphabet[n >> 18 & 63];
    out += alphabet[n >> 12 & 63];
    if (rest == 2) out += alphabet[n >> 6 & 63];
    if (pad) out.append(rest == 2 ? 1 : 2, '=');
  }
  return out;
}

// Decodes unpadded base64 digits. Rejects characters outside the alphabet, an impossible
// length (one digit left over) and non-zero unused bits, so every byte string has exactly one
// accepted encoding.
Result<std::string> Base64DecodeDigits(std::string_view text, bool url_safe,
                                       std::string_view encoding) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t bits = 0;
  int bit_count = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const int value = Base64DigitValue(text[i], url_safe);
    if (value < 0) {
      return InvalidEncoding(encoding, "unexpected character at offset " + std::to_string(i));
    }
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out += static_cast<char>(bits >> bit_count & 0xff);
    }
  }
  if (text.size() % 4 == 1) return InvalidEncoding(encoding, "truncated input");
  if ((bits & ((1u << bit_count) - 1)) != 0)
    return InvalidEncoding(encoding, "non-zero padding bits");
  return out;
}

}  // namespace

Digest Sha256(std::string_view data) {
  Digest digest;
  if (EVP_Digest(data.data(), data.size(), digest.data(), nullptr, EVP_sha256(), nullptr) != 1) {
    Fatal("SHA-256");
  }
  return digest;
}

std::string Sha256Hex(std::string_view data) {
  const Digest digest = Sha256(data);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

Digest HmacSha256(std::string_view key, std::string_view data) {
  Digest mac;
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), Bytes(data), data.size(),
           mac.data(), &length) == nullptr ||
      length != mac.size()) {
    Fatal("HMAC-SHA-256");
  }
  return mac;
}

std::string RandomBytes(std::size_t count) {
  std::string out(count, '\0');
  if (count > 0 && RAND_bytes(MutableBytes(out), static_cast<int>(count)) != 1) {
    Fatal("RAND_bytes");
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto byte = static_cast<std::uint8_t>(c);
    out += kDigits[byte >> 4];
    out += kDigits[byte & 15];
  }
  return out;
}

Result<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return InvalidEncoding("hex", "odd number of digits");
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = digit(hex[i]);
    const int low = digit(hex[i + 1]);
    if (high < 0 || low < 0) {
      return InvalidEncoding(
          "hex", "unexpected character at offset " + std::to_string(high < 0 ? i : i + 1));
    }
    out += static_cast<char>(high << 4 | low);
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  return Base64EncodeWith(bytes, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                          true);
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return InvalidEncoding("base64", "length is not a multiple of 4");
  std::string_view digits = text;
  if (!digits.empty() && digits.back() == '=') digits.remove_suffix(1);
  if (!digits.empty() && digits.back() == '=') digits.remove_suffix(1);
  return Base64DecodeDigits(digits, false, "base64");
}

std::string Base64UrlEncode(std::string_view bytes) {
  return Base64EncodeWith(bytes, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                          false);
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  return Base64DecodeDigits(text, true, "base64url");
}

std::string Base32Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  std::uint32_t bits = 0;
  int bit_count = 0;
  for (char c : bytes) {
    bits = (bits << 8) | static_cast<std::uint8_t>(c);
    bit_count += 8;
    while (bit_count >= 5) {
      bit_count -= 5;
      out += kAlphabet[bits >> bit_count & 31];
    }
  }
  if (bit_count > 0) out += kAlphabet[bits << (5 - bit_count) & 31];
  return out;
}

// The EVP_PKEY is only read after construction; OpenSSL allows concurrent signing with one
// key as long as each operation has its own EVP_MD_CTX.
struct Ed25519PrivateKey::Impl {
  PkeyPtr pkey;
};

Ed25519PrivateKey::Ed25519PrivateKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ed25519PrivateKey::Ed25519PrivateKey(Ed25519PrivateKey&&) noexcept = default;
Ed25519PrivateKey& Ed25519PrivateKey::operator=(Ed25519PrivateKey&&) noexcept = default;
Ed25519PrivateKey::~Ed25519PrivateKey() = default;

Ed25519PrivateKey Ed25519PrivateKey::Generate() {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (pkey == nullptr) Fatal("Ed25519 key generation");
  return Ed25519PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey)}));
}

Result<Ed25519PrivateKey> Ed25519PrivateKey::FromRaw(std::string_view raw32) {
  if (raw32.size() != kEd25519KeySize) {
    return Error(ErrorCode::kInvalidArgument,
                 "an Ed25519 private key has 32 bytes, not " + std::to_string(raw32.size()));
  }
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(raw32), raw32.size()));
  if (pkey == nullptr) Fatal("Ed25519 private key import");
  return Ed25519PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey)}));
}

Result<Ed25519PrivateKey> Ed25519PrivateKey::FromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) Fatal("BIO_new_mem_buf");
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (pkey == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "not a PEM-encoded PKCS#8 private key");
  }
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519) {
    return Error(ErrorCode::kInvalidArgument, "the private key is not an Ed25519 key");
  }
  return Ed25519PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey)}));
}

std::string Ed25519PrivateKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0,
                                                 nullptr, nullptr) != 1) {
    Fatal("PEM_write_bio_PrivateKey");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, static_cast<std::size_t>(size));
  OPENSSL_cleanse(data, static_cast<std::size_t>(size));
  return pem;
}

std::string Ed25519PrivateKey::PublicKeyRaw() const {
  std::string out(kEd25519KeySize, '\0');
  std::size_t size = out.size();
  if (EVP_PKEY_get_raw_public_key(impl_->pkey.get(), MutableBytes(out), &size) != 1 ||
      size != kEd25519KeySize) {
    Fatal("EVP_PKEY_get_raw_public_key");
  }
  return out;
}

std::string Ed25519PrivateKey::Sign(std::string_view message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string signature(kEd25519SignatureSize, '\0');
  std::size_t size = signature.size();
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), MutableBytes(signature), &size, Bytes(message), message.size()) !=
          1 ||
      size != kEd25519SignatureSize) {
    Fatal("Ed25519 signing");
  }
  return signature;
}

bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature) {
  if (public_key.size() != kEd25519KeySize || signature.size() != kEd25519SignatureSize) {
    return false;
  }
  PkeyPtr pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(public_key), public_key.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok = pkey != nullptr && ctx != nullptr &&
                  EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
                  EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(message),
                                   message.size()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

}  // namespace xrole::crypto
