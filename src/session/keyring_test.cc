#include "session/keyring.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "session/token.h"

namespace xrole::session {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteAll(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

fs::perms Mode(const fs::path& path) { return fs::status(path).permissions(); }

std::vector<std::string> KeyFileNames(const fs::path& data_dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(data_dir / "keys")) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class KeyRingTest : public ::testing::Test {
 protected:
  KeyRingTest() {
    std::string pattern = (fs::temp_directory_path() / "xrole-keyring-XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
    data_dir_ = root_ / "nested" / "data";
  }
  ~KeyRingTest() override { fs::remove_all(root_); }

  std::unique_ptr<KeyRing> MustOpen() {
    auto ring = KeyRing::Open(data_dir_.string());
    EXPECT_TRUE(ring.ok()) << ring.error().ToString();
    return ring.ok() ? std::move(ring).value() : nullptr;
  }

  fs::path root_;
  fs::path data_dir_;
};

TEST_F(KeyRingTest, FirstOpenCreatesPrivateLayout) {
  auto ring = MustOpen();
  ASSERT_NE(ring, nullptr);
  EXPECT_EQ(ring->data_dir(), data_dir_.string());
  EXPECT_EQ(Mode(data_dir_), fs::perms::owner_all);
  EXPECT_EQ(Mode(data_dir_ / "keys"), fs::perms::owner_all);
  const auto owner_rw = fs::perms::owner_read | fs::perms::owner_write;
  EXPECT_EQ(Mode(data_dir_ / "secret.key"), owner_rw);
  EXPECT_EQ(Mode(data_dir_ / "admin.token"), owner_rw);
  EXPECT_EQ(fs::file_size(data_dir_ / "secret.key"), 32u);

  EXPECT_THAT(ring->admin_token(), MatchesRegex("xadm_[A-Za-z0-9_-]{43}"));
  EXPECT_EQ(ReadAll(data_dir_ / "admin.token"), ring->admin_token() + "\n");

  const std::string kid = ring->signer_id();
  const std::string public_key = ring->signer().PublicKeyRaw();
  EXPECT_EQ(kid, "k-" + crypto::Sha256Hex(public_key).substr(0, 16));
  EXPECT_THAT(KeyFileNames(data_dir_), ::testing::ElementsAre("ed25519-000001-" + kid + ".pem"));
  EXPECT_EQ(Mode(data_dir_ / "keys" / ("ed25519-000001-" + kid + ".pem")), owner_rw);

  const auto keys = ring->PublicKeys();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].key_id, kid);
  EXPECT_EQ(keys[0].public_key, public_key);
  EXPECT_TRUE(keys[0].active);
  EXPECT_GT(keys[0].created_at, 0);
  ASSERT_NE(ring->PublicKey(kid), nullptr);
  EXPECT_EQ(*ring->PublicKey(kid), public_key);
  EXPECT_EQ(ring->PublicKey("k-0000000000000000"), nullptr);
}

TEST_F(KeyRingTest, ReopenKeepsSignerTokenAndSecrets) {
  auto first = MustOpen();
  ASSERT_NE(first, nullptr);
  auto second = MustOpen();
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->signer_id(), first->signer_id());
  EXPECT_EQ(second->signer().PublicKeyRaw(), first->signer().PublicKeyRaw());
  EXPECT_EQ(second->admin_token(), first->admin_token());
  EXPECT_EQ(second->DeriveSecret("AKIAEXAMPLE"), first->DeriveSecret("AKIAEXAMPLE"));
  EXPECT_EQ(KeyFileNames(data_dir_).size(), 1u);
}

TEST_F(KeyRingTest, DataDirectoryWithTrailingSlash) {
  auto ring = KeyRing::Open(data_dir_.string() + "/");
  ASSERT_TRUE(ring.ok()) << ring.error().ToString();
  EXPECT_EQ(Mode(data_dir_), fs::perms::owner_all);
}

TEST_F(KeyRingTest, DerivesSecretsFromSecretKey) {
  auto ring = MustOpen();
  ASSERT_NE(ring, nullptr);
  const std::string secret = ring->DeriveSecret("ASIAABCDEFGHIJKLMNOP");
  EXPECT_EQ(secret.size(), 40u);
  const crypto::Digest mac =
      crypto::HmacSha256(ReadAll(data_dir_ / "secret.key"), "xrole-akid:ASIAABCDEFGHIJKLMNOP");
  EXPECT_EQ(secret,
            crypto::Base64Encode(std::string(reinterpret_cast<const char*>(mac.data()), mac.size()))
                .substr(0, 40));
  EXPECT_EQ(ring->DeriveSecret("ASIAABCDEFGHIJKLMNOP"), secret);
  EXPECT_NE(ring->DeriveSecret("ASIAABCDEFGHIJKLMNOQ"), secret);

  // Another data directory has another secret.key, hence other secrets.
  auto other = KeyRing::Open((root_ / "other").string());
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)->DeriveSecret("ASIAABCDEFGHIJKLMNOP"), secret);
  EXPECT_NE((*other)->admin_token(), ring->admin_token());
}

TEST_F(KeyRingTest, RotateAddsSignerAndOldKeysKeepVerifying) {
  auto ring = MustOpen();
  ASSERT_NE(ring, nullptr);
  const std::string old_kid = ring->signer_id();
  const std::string* old_public_key = ring->PublicKey(old_kid);
  const crypto::Ed25519PrivateKey* old_signer = &ring->signer();
  TokenClaims claims;
  claims.key_id = old_kid;
  claims.session_id = "s-1";
  claims.expires_at = 2'000'000'000;
  const std::string old_token = IssueToken(claims, ring->signer());

  auto rotated = ring->Rotate();
  ASSERT_TRUE(rotated.ok()) << rotated.error().ToString();
  const std::string new_kid = *rotated;
  EXPECT_NE(new_kid, old_kid);
  EXPECT_EQ(ring->signer_id(), new_kid);
  EXPECT_THAT(KeyFileNames(data_dir_),
              ::testing::ElementsAre("ed25519-000001-" + old_kid + ".pem",
                                     "ed25519-000002-" + new_kid + ".pem"));
  // Addresses handed out earlier stay valid across rotations.
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(ring->Rotate().ok());
  EXPECT_EQ(ring->PublicKey(old_kid), old_public_key);
  EXPECT_EQ(old_signer->PublicKeyRaw(), *old_public_key);

  const PublicKeyLookup lookup = [&](std::string_view kid) { return ring->PublicKey(kid); };
  EXPECT_TRUE(VerifyToken(old_token, lookup, 1'000'000'000).ok());
  claims.key_id = ring->signer_id();
  EXPECT_TRUE(VerifyToken(IssueToken(claims, ring->signer()), lookup, 1'000'000'000).ok());

  const auto keys = ring->PublicKeys();
  ASSERT_EQ(keys.size(), 42u);
  EXPECT_EQ(keys.front().key_id, old_kid);
  EXPECT_EQ(keys[1].key_id, new_kid);
  for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(keys[i].active, i + 1 == keys.size());

  // Reopening picks the newest key: the one with the largest sequence number.
  const std::string newest = ring->signer_id();
  auto reopened = MustOpen();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->signer_id(), newest);
  EXPECT_EQ(reopened->PublicKeys().size(), 42u);
  EXPECT_TRUE(
      VerifyToken(
          old_token, [&](std::string_view kid) { return reopened->PublicKey(kid); }, 1'000'000'000)
          .ok());
}

TEST_F(KeyRingTest, RetiredKeysVerifyButDoNotSign) {
  auto ring = MustOpen();
  ASSERT_NE(ring, nullptr);
  const std::string first = ring->signer_id();
  const std::string second = *ring->Rotate();
  WriteAll(data_dir_ / "keys" / "retired", "\n  " + second + " \n");
  auto reopened = MustOpen();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->signer_id(), first);
  EXPECT_NE(reopened->PublicKey(second), nullptr);

  // With every key retired, Open creates a fresh signer.
  WriteAll(data_dir_ / "keys" / "retired", first + "\n" + second + "\n");
  auto fresh = MustOpen();
  ASSERT_NE(fresh, nullptr);
  EXPECT_NE(fresh->signer_id(), first);
  EXPECT_NE(fresh->signer_id(), second);
  EXPECT_EQ(fresh->PublicKeys().size(), 3u);
  EXPECT_EQ(KeyFileNames(data_dir_).back(), "retired");
  EXPECT_EQ(KeyFileNames(data_dir_)[2], "ed25519-000003-" + fresh->signer_id() + ".pem");
}

TEST_F(KeyRingTest, RefusesSecretFilesOpenToGroupOrOthers) {
  ASSERT_NE(MustOpen(), nullptr);
  const std::string key_file = (data_dir_ / "keys" / KeyFileNames(data_dir_)[0]).string();
  for (const std::string& path :
       {key_file, (data_dir_ / "secret.key").string(), (data_dir_ / "admin.token").string()}) {
    for (mode_t mode : {0640, 0604, 0620}) {
      ASSERT_EQ(::chmod(path.c_str(), mode), 0);
      auto ring = KeyRing::Open(data_dir_.string());
      ASSERT_FALSE(ring.ok()) << path;
      EXPECT_EQ(ring.error().code(), ErrorCode::kPermissionDenied);
      EXPECT_THAT(ring.error().message(), HasSubstr("`" + path + "` is accessible by group"));
      EXPECT_THAT(ring.error().message(), HasSubstr("chmod 600"));
    }
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  }
  EXPECT_NE(MustOpen(), nullptr);
}

TEST_F(KeyRingTest, RefusesKeyFileWhoseNameDoesNotMatchItsKey) {
  auto ring = MustOpen();
  ASSERT_NE(ring, nullptr);
  const fs::path key_file = data_dir_ / "keys" / KeyFileNames(data_dir_)[0];
  fs::rename(key_file, data_dir_ / "keys" / "ed25519-000001-k-0000000000000000.pem");
  auto reopened = KeyRing::Open(data_dir_.string());
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.error().code(), ErrorCode::kInternal);
  EXPECT_THAT(reopened.error().message(), HasSubstr("not the key its name says"));
}

TEST_F(KeyRingTest, RefusesCorruptFiles) {
  ASSERT_NE(MustOpen(), nullptr);
  const fs::path key_file = data_dir_ / "keys" / KeyFileNames(data_dir_)[0];
  const std::string pem = ReadAll(key_file);
  WriteAll(key_file, "garbage");
  auto bad_key = KeyRing::Open(data_dir_.string());
  ASSERT_FALSE(bad_key.ok());
  EXPECT_THAT(bad_key.error().message(), HasSubstr(key_file.string()));
  WriteAll(key_file, pem);

  WriteAll(data_dir_ / "secret.key", "short");
  auto bad_secret = KeyRing::Open(data_dir_.string());
  ASSERT_FALSE(bad_secret.ok());
  EXPECT_THAT(bad_secret.error().message(), HasSubstr("holds 5 bytes, not 32"));
}

TEST_F(KeyRingTest, IgnoresUnrelatedFilesInKeysDirectory) {
  auto ring = MustOpen();
  ASSERT_NE(ring, nullptr);
  WriteAll(data_dir_ / "keys" / ".ed25519-000009-k-1.pem.tmp-abcdef", "partial");
  WriteAll(data_dir_ / "keys" / "README", "notes");
  WriteAll(data_dir_ / "keys" / "ed25519-x-k-1.pem", "not numbered");
  auto reopened = MustOpen();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->signer_id(), ring->signer_id());
  EXPECT_EQ(reopened->PublicKeys().size(), 1u);
}

TEST_F(KeyRingTest, ReadersRunDuringRotation) {
  auto ring = MustOpen();
  ASSERT_NE(ring, nullptr);
  const std::string first = ring->signer_id();
  std::atomic<bool> done = false;
  std::atomic<int> failures = 0;
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!done) {
        if (ring->PublicKey(first) == nullptr) ++failures;
        const std::string kid = ring->signer_id();
        const crypto::Ed25519PrivateKey& signer = ring->signer();
        if (!crypto::Ed25519Verify(signer.PublicKeyRaw(), "m", signer.Sign("m"))) ++failures;
        if (ring->PublicKey(kid) == nullptr) ++failures;
      }
    });
  }
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(ring->Rotate().ok());
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(failures, 0);
}

TEST(NewAccessKeyIdTest, HasPrefixAndBase32Body) {
  EXPECT_THAT(NewAccessKeyId(false), MatchesRegex("AKIA[A-Z2-7]{16}"));
  EXPECT_THAT(NewAccessKeyId(true), MatchesRegex("ASIA[A-Z2-7]{16}"));
  EXPECT_NE(NewAccessKeyId(true), NewAccessKeyId(true));
}

}  // namespace
}  // namespace xrole::session
