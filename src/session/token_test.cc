#include "session/token.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace xrole::session {
namespace {

constexpr std::int64_t kNow = 1'700'000'000;

class TokenTest : public ::testing::Test {
 protected:
  TokenTest() : key_(crypto::Ed25519PrivateKey::Generate()) {
    keys_["k-0123456789abcdef"] = key_.PublicKeyRaw();
    claims_.key_id = "k-0123456789abcdef";
    claims_.session_id = "s-42";
    claims_.role = "deployer";
    claims_.run_id = "r-7";
    claims_.agent = "ci-bot";
    claims_.access_key_id = "ASIAABCDEFGHIJKLMNOP";
    claims_.policy_hash = "9f86d081884c7d65";
    claims_.issued_at = kNow - 10;
    claims_.expires_at = kNow + 900;
  }

  PublicKeyLookup Lookup() const {
    return [this](std::string_view key_id) -> const std::string* {
      auto it = keys_.find(std::string(key_id));
      return it == keys_.end() ? nullptr : &it->second;
    };
  }

  Result<TokenClaims> Verify(std::string_view token, std::int64_t now = kNow) const {
    return VerifyToken(token, Lookup(), now);
  }

  // A token with `payload_json` as its payload, correctly signed by key_.
  std::string SignPayload(std::string_view payload_json) const {
    std::string token = "xrt1." + crypto::Base64UrlEncode(payload_json);
    return token + "." + crypto::Base64UrlEncode(key_.Sign(token));
  }

  void ExpectRejected(std::string_view token, std::string_view message) const {
    auto result = Verify(token);
    ASSERT_FALSE(result.ok()) << token;
    EXPECT_EQ(result.error().code(), ErrorCode::kUnauthenticated) << token;
    EXPECT_EQ(result.error().message(), message) << token;
  }

  crypto::Ed25519PrivateKey key_;
  std::map<std::string, std::string> keys_;
  TokenClaims claims_;
};

TEST_F(TokenTest, RoundTripsClaims) {
  const std::string token = IssueToken(claims_, key_);
  EXPECT_EQ(token.rfind("xrt1.", 0), 0u);
  auto verified = Verify(token);
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_EQ(*verified, claims_);
}

TEST_F(TokenTest, PayloadIsCompactJsonInFixedOrder) {
  const std::string token = IssueToken(claims_, key_);
  const std::size_t dot = token.find('.', 5);
  auto payload = crypto::Base64UrlDecode(token.substr(5, dot - 5));
  ASSERT_TRUE(payload.ok());
  EXPECT_EQ(*payload, R"({"kid":"k-0123456789abcdef","sid":"s-42","role":"deployer","run":"r-7",)"
                      R"("agt":"ci-bot","akid":"ASIAABCDEFGHIJKLMNOP","ph":"9f86d081884c7d65",)"
                      R"("iat":1699999990,"exp":1700000900})");
  // Signing is deterministic, so the same claims give the same token.
  EXPECT_EQ(IssueToken(claims_, key_), token);
}

TEST_F(TokenTest, EscapesClaimText) {
  claims_.agent = "a\"b\\c\n\u00e9";
  auto verified = Verify(IssueToken(claims_, key_));
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_EQ(verified->agent, claims_.agent);
}

TEST_F(TokenTest, RejectsWrongShape) {
  const std::string token = IssueToken(claims_, key_);
  ExpectRejected("", "malformed token: expected prefix `xrt1.`");
  ExpectRejected("xrt2" + token.substr(4), "malformed token: expected prefix `xrt1.`");
  ExpectRejected("Bearer " + token, "malformed token: expected prefix `xrt1.`");
  const std::string parts = "malformed token: expected three `.`-separated parts";
  ExpectRejected(token.substr(0, token.rfind('.')), parts);
  ExpectRejected(token + ".x", parts);
  ExpectRejected(token + ".", parts);
  ExpectRejected("xrt1.", parts);
  ExpectRejected(std::string(9000, 'a'), "malformed token: too long");
}

TEST_F(TokenTest, RejectsBadBase64Url) {
  const std::string token = IssueToken(claims_, key_);
  const std::size_t dot = token.rfind('.');
  ExpectRejected("xrt1.e30=" + token.substr(dot), "malformed token: payload is not base64url");
  ExpectRejected("xrt1.e3+0" + token.substr(dot), "malformed token: payload is not base64url");
  const std::string bad_signature = "malformed token: signature is not 64 base64url-encoded bytes";
  ExpectRejected(token.substr(0, dot + 1) + "!!", bad_signature);
  ExpectRejected(token.substr(0, token.size() - 4), bad_signature);  // 61 bytes
  ExpectRejected(token.substr(0, dot + 1), bad_signature);
}

TEST_F(TokenTest, RejectsBadJsonAndMissingClaims) {
  const std::string bad_json = "malformed token: payload is not a flat JSON object of claims";
  ExpectRejected(SignPayload("not json"), bad_json);
  ExpectRejected(SignPayload("[]"), bad_json);
  ExpectRejected(SignPayload("\"kid\""), bad_json);
  ExpectRejected(SignPayload(R"({"kid":"k-0123456789abcdef"} {})"), bad_json);
  ExpectRejected(SignPayload(R"({"kid":{"nested":1}})"), bad_json);
  ExpectRejected(SignPayload(R"({"kid":"a","kid":"b"})"), bad_json);  // duplicate
  ExpectRejected(SignPayload(R"({"exp":"soon"})"), bad_json);         // wrong type
  ExpectRejected(SignPayload(R"({"kid":7})"), bad_json);
  ExpectRejected(SignPayload(R"({"exp":1.5})"), bad_json);
  ExpectRejected(SignPayload(R"({"exp":18446744073709551615})"), bad_json);
  ExpectRejected(SignPayload(R"({"kid":"k-0123456789abcdef","sid":"s","role":"r","run":"x",)"
                             R"("agt":"a","akid":"A","ph":"h","iat":1})"),
                 "malformed token: missing claim `exp`");
  ExpectRejected(SignPayload("{}"), "malformed token: missing claim `kid`");
}

TEST_F(TokenTest, IgnoresUnknownScalarClaims) {
  auto verified = Verify(SignPayload(
      R"({"kid":"k-0123456789abcdef","sid":"s","role":"r","run":"x","agt":"a","akid":"A",)"
      R"("ph":"h","iat":1,"exp":1700000900,"future":true,"n":null,"f":2.5})"));
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_EQ(verified->expires_at, kNow + 900);
}

TEST_F(TokenTest, RejectsUnknownKeyId) {
  claims_.key_id = "k-ffffffffffffffff";
  ExpectRejected(IssueToken(claims_, key_), "unknown signing key `k-ffffffffffffffff`");
}

TEST_F(TokenTest, RejectsSignatureFromAnotherKey) {
  const auto other = crypto::Ed25519PrivateKey::Generate();
  ExpectRejected(IssueToken(claims_, other), "token signature does not verify");
}

TEST_F(TokenTest, RejectsEveryFlippedByte) {
  const std::string token = IssueToken(claims_, key_);
  // Flipping a bit of any character either breaks the encoding or the JSON, names another key,
  // or changes the signed bytes; every such token must be rejected.
  for (std::size_t i = 0; i < token.size(); ++i) {
    for (char flip : {'\x01', '\x04'}) {
      std::string tampered = token;
      tampered[i] = static_cast<char>(tampered[i] ^ flip);
      auto result = Verify(tampered);
      ASSERT_FALSE(result.ok()) << "position " << i;
      EXPECT_EQ(result.error().code(), ErrorCode::kUnauthenticated) << "position " << i;
    }
  }
}

TEST_F(TokenTest, RejectsEveryFlippedSignatureByte) {
  const std::string token = IssueToken(claims_, key_);
  const std::size_t dot = token.rfind('.');
  const std::string signature = *crypto::Base64UrlDecode(token.substr(dot + 1));
  for (std::size_t i = 0; i < signature.size(); ++i) {
    std::string tampered = signature;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x80);
    ExpectRejected(token.substr(0, dot + 1) + crypto::Base64UrlEncode(tampered),
                   "token signature does not verify");
  }
}

TEST_F(TokenTest, RejectsChangedClaimsWithOldSignature) {
  const std::string token = IssueToken(claims_, key_);
  TokenClaims widened = claims_;
  widened.role = "admin";
  const std::string forged = IssueToken(widened, key_);
  ExpectRejected(forged.substr(0, forged.rfind('.')) + token.substr(token.rfind('.')),
                 "token signature does not verify");
}

TEST_F(TokenTest, ExpiresAtExp) {
  const std::string token = IssueToken(claims_, key_);
  EXPECT_TRUE(Verify(token, claims_.expires_at - 1).ok());
  for (std::int64_t now : {claims_.expires_at, claims_.expires_at + 3600}) {
    auto result = Verify(token, now);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code(), ErrorCode::kExpired);
    EXPECT_EQ(result.error().message(), "token expired at 2023-11-14T22:28:20Z");
  }
}

TEST_F(TokenTest, ChecksSignatureBeforeExpiry) {
  const std::string token = IssueToken(claims_, key_);
  std::string tampered = token;
  tampered.back() = tampered.back() == 'A' ? 'Q' : 'A';
  auto result = VerifyToken(tampered, Lookup(), claims_.expires_at + 1);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kUnauthenticated);
}

}  // namespace
}  // namespace xrole::session
