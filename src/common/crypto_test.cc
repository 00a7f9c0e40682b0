#include "common/crypto.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace xrole::crypto {
namespace {

std::string FromHex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok()) << hex;
  return bytes.ok() ? *bytes : std::string();
}

std::string DigestHex(const Digest& digest) {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

// RFC 8032 section 7.1, test 1.
constexpr char kRfc8032Secret[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr char kRfc8032Public[] =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr char kRfc8032Signature[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
    "46bd25bf5f0595bbe24655141438e7a100b";

TEST(CryptoTest, Sha256KnownValues) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(DigestHex(Sha256("abc")), Sha256Hex("abc"));
}

TEST(CryptoTest, HmacSha256Rfc4231) {
  // Test case 1.
  EXPECT_EQ(DigestHex(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2.
  EXPECT_EQ(DigestHex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(CryptoTest, RandomBytesHaveRequestedLengthAndDiffer) {
  EXPECT_EQ(RandomBytes(0), "");
  const std::string a = RandomBytes(32);
  const std::string b = RandomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
}

TEST(CryptoTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
}

TEST(CryptoTest, HexRoundTripAndRejection) {
  EXPECT_EQ(HexEncode("foobar"), "666f6f626172");
  EXPECT_EQ(HexEncode(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(*HexDecode("666F6f626172"), "foobar");
  EXPECT_EQ(*HexDecode(""), "");
  const std::string all = [] {
    std::string s;
    for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
    return s;
  }();
  EXPECT_EQ(*HexDecode(HexEncode(all)), all);
  EXPECT_FALSE(HexDecode("abc").ok());
  auto bad = HexDecode("0g");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "invalid hex: unexpected character at offset 1");
  EXPECT_FALSE(HexDecode(" 00").ok());
}

// RFC 4648 section 10.
const std::vector<std::pair<std::string, std::string>> kBase64Vectors = {{"", ""},
                                                                         {"f", "Zg=="},
                                                                         {"fo", "Zm8="},
                                                                         {"foo", "Zm9v"},
                                                                         {"foob", "Zm9vYg=="},
                                                                         {"fooba", "Zm9vYmE="},
                                                                         {"foobar", "Zm9vYmFy"}};

TEST(CryptoTest, Base64Rfc4648Vectors) {
  for (const auto& [plain, encoded] : kBase64Vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(*decoded, plain);
    std::string unpadded = encoded.substr(0, encoded.find('='));
    EXPECT_EQ(Base64UrlEncode(plain), unpadded);
    EXPECT_EQ(*Base64UrlDecode(unpadded), plain);
  }
}

TEST(CryptoTest, Base64AlphabetsDiffer) {
  const std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(Base64Encode(bytes), "+/+/");
  EXPECT_EQ(Base64UrlEncode(bytes), "-_-_");
  EXPECT_EQ(*Base64Decode("+/+/"), bytes);
  EXPECT_EQ(*Base64UrlDecode("-_-_"), bytes);
  EXPECT_FALSE(Base64Decode("-_-_").ok());
  EXPECT_FALSE(Base64UrlDecode("+/+/").ok());
}

TEST(CryptoTest, Base64RoundTripsEveryLength) {
  const std::string random = RandomBytes(70);
  for (std::size_t n = 0; n <= random.size(); ++n) {
    const std::string bytes = random.substr(0, n);
    EXPECT_EQ(*Base64Decode(Base64Encode(bytes)), bytes);
    EXPECT_EQ(*Base64UrlDecode(Base64UrlEncode(bytes)), bytes);
  }
}

TEST(CryptoTest, Base64RejectsInvalidInput) {
  EXPECT_FALSE(Base64Decode("Zg").ok());        // missing padding
  EXPECT_FALSE(Base64Decode("Zg=").ok());       // short padding
  EXPECT_FALSE(Base64Decode("Z===").ok());      // too much padding
  EXPECT_FALSE(Base64Decode("Zg=a").ok());      // padding in the middle
  EXPECT_FALSE(Base64Decode("Zm9v\n").ok());    // whitespace
  EXPECT_FALSE(Base64Decode("Zh==").ok());      // non-zero unused bits
  EXPECT_FALSE(Base64Decode("Zm9*").ok());      // outside the alphabet
  EXPECT_FALSE(Base64UrlDecode("Zg==").ok());   // padding is not part of base64url here
  EXPECT_FALSE(Base64UrlDecode("Zm9vY").ok());  // one digit left over
  EXPECT_FALSE(Base64UrlDecode("Zh").ok());     // non-zero unused bits
  auto bad = Base64UrlDecode("Zm9v.");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "invalid base64url: unexpected character at offset 4");
}

TEST(CryptoTest, Base32Rfc4648VectorsWithoutPadding) {
  EXPECT_EQ(Base32Encode(""), "");
  EXPECT_EQ(Base32Encode("f"), "MY");
  EXPECT_EQ(Base32Encode("fo"), "MZXQ");
  EXPECT_EQ(Base32Encode("foo"), "MZXW6");
  EXPECT_EQ(Base32Encode("foob"), "MZXW6YQ");
  EXPECT_EQ(Base32Encode("fooba"), "MZXW6YTB");
  EXPECT_EQ(Base32Encode("foobar"), "MZXW6YTBOI");
  EXPECT_EQ(Base32Encode(RandomBytes(10)).size(), 16u);
}

TEST(CryptoTest, Ed25519Rfc8032Test1) {
  auto key = Ed25519PrivateKey::FromRaw(FromHex(kRfc8032Secret));
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_EQ(HexEncode(key->PublicKeyRaw()), kRfc8032Public);
  const std::string signature = key->Sign("");
  EXPECT_EQ(HexEncode(signature), kRfc8032Signature);
  EXPECT_TRUE(Ed25519Verify(FromHex(kRfc8032Public), "", signature));
}

TEST(CryptoTest, Ed25519RejectsTamperedSignatureAndMessage) {
  const Ed25519PrivateKey key = Ed25519PrivateKey::Generate();
  const std::string public_key = key.PublicKeyRaw();
  const std::string message = "xrt1.payload";
  const std::string signature = key.Sign(message);
  ASSERT_EQ(signature.size(), 64u);
  ASSERT_TRUE(Ed25519Verify(public_key, message, signature));
  for (std::size_t i = 0; i < signature.size(); ++i) {
    std::string tampered = signature;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    EXPECT_FALSE(Ed25519Verify(public_key, message, tampered)) << "byte " << i;
  }
  for (std::size_t i = 0; i < message.size(); ++i) {
    std::string tampered = message;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x20);
    EXPECT_FALSE(Ed25519Verify(public_key, tampered, signature)) << "byte " << i;
  }
  EXPECT_FALSE(Ed25519Verify(public_key, message + "x", signature));
  EXPECT_FALSE(Ed25519Verify(public_key, message, signature.substr(0, 63)));
  EXPECT_FALSE(Ed25519Verify(public_key.substr(0, 31), message, signature));
  EXPECT_FALSE(Ed25519Verify(Ed25519PrivateKey::Generate().PublicKeyRaw(), message, signature));
}

TEST(CryptoTest, Ed25519PemRoundTrip) {
  auto key = Ed25519PrivateKey::FromRaw(FromHex(kRfc8032Secret));
  ASSERT_TRUE(key.ok());
  const std::string pem = key->ToPem();
  EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u) << pem;
  auto reloaded = Ed25519PrivateKey::FromPem(pem);
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().ToString();
  EXPECT_EQ(HexEncode(reloaded->PublicKeyRaw()), kRfc8032Public);
  EXPECT_EQ(HexEncode(reloaded->Sign("")), kRfc8032Signature);
}

TEST(CryptoTest, Ed25519RejectsBadKeys) {
  EXPECT_FALSE(Ed25519PrivateKey::FromRaw("short").ok());
  auto not_pem = Ed25519PrivateKey::FromPem("not a key");
  ASSERT_FALSE(not_pem.ok());
  EXPECT_EQ(not_pem.error().code(), ErrorCode::kInvalidArgument);
  // A P-256 key in PKCS#8 PEM is well-formed but not Ed25519.
  constexpr char kP256Pem[] =
      "-----BEGIN PRIVATE KEY-----\n"
      "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQghe1Xi87Pd+46OZ7P\n"
      "Oxgc6KJxnwhUePvigMHjSxw19lihRANCAARUDD8GFPUIiA6ervzc/Jmsu62OJ/Dz\n"
      "UHiaKhb1jCctzFtMYFLsJUqlCS4q6enf46gyipXgu3u14O83M3DpEX82\n"
      "-----END PRIVATE KEY-----\n";
  auto p256 = Ed25519PrivateKey::FromPem(kP256Pem);
  ASSERT_FALSE(p256.ok());
  EXPECT_EQ(p256.error().message(), "the private key is not an Ed25519 key");
}

TEST(CryptoTest, Ed25519KeysMove) {
  Ed25519PrivateKey a = Ed25519PrivateKey::Generate();
  const std::string public_key = a.PublicKeyRaw();
  Ed25519PrivateKey b = std::move(a);
  EXPECT_EQ(b.PublicKeyRaw(), public_key);
  a = Ed25519PrivateKey::Generate();
  EXPECT_NE(a.PublicKeyRaw(), public_key);
}

}  // namespace
}  // namespace xrole::crypto
