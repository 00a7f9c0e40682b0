// keyring.h: the server's secrets, kept in the data directory (mode 0700, files 0600) and
// never in the database or the logs:
//   keys/ed25519-<seq>-<kid>.pem  Ed25519 signing keys (tokens and audit checkpoints), PKCS#8
//                            PEM; <seq> is a decimal sequence number, one more than the
//                            largest before it, so the file with the largest <seq> is the
//                            newest. The newest key not listed in keys/retired signs; every
//                            retained key verifies. kid = "k-" + the first 16 hex digits of
//                            SHA-256(raw public key), checked against the file name at load.
//   keys/retired             key ids no longer used for signing, one per line (still verify
//                            until their files are deleted); optional, never written here
//   secret.key               32 random bytes from which every access-key secret is derived:
//                            secret(akid) = base64(HMAC-SHA-256(secret.key, "xrole-akid:" +
//                            akid))[0..40)
//   admin.token              the admin bearer token, "xadm_" + base64url of 32 random bytes, and
//                            a newline (the store keeps only its SHA-256)
// Derived secrets mean no access-key secret is ever stored: the server recomputes it when it
// verifies a request, and a stolen database reveals none.
//
// Files are created atomically and never overwritten: written to a temporary file, fsynced,
// then hard-linked into place (which fails if the name exists) and the directory fsynced. Two
// processes opening a fresh directory at once therefore agree on secret.key and admin.token.
// Directories are created with mode 0700 (existing ones are left as they are). A secret file
// (key, secret.key, admin.token) that is not a regular file or that grants any permission to
// group or others is refused with kPermissionDenied naming the file.
#ifndef XROLE_SESSION_KEYRING_H_
#define XROLE_SESSION_KEYRING_H_

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto.h"
#include "xrole/status.h"

namespace xrole::session {

struct PublicKeyInfo {
  std::string key_id;
  std::string public_key;       // raw 32 bytes
  bool active = false;          // the current signing key
  std::int64_t created_at = 0;  // epoch seconds (file mtime at load)
};

// Thread-safe: Rotate may run concurrently with every reader.
class KeyRing {
 public:
  // Loads the keys under `data_dir`, creating the directory, a first signing key, the derivation
  // secret and the admin token when absent (and a new signing key when every key is retired).
  // Errors: kPermissionDenied for a secret file open to group or others, kInternal for a
  // file with unusable content, kUnavailable for I/O failures.
  static Result<std::unique_ptr<KeyRing>> Open(const std::string& data_dir);

  // The current signing key and its id. The pointer stays valid for the KeyRing's lifetime.
  const crypto::Ed25519PrivateKey& signer() const;
  std::string signer_id() const;

  // Generates a new signing key, writes it as the newest key file and makes it current; old
  // keys keep verifying. Returns the new key id.
  Result<std::string> Rotate();

  // Raw public key by id, or nullptr. The pointer stays valid for the KeyRing's lifetime.
  const std::string* PublicKey(std::string_view key_id) const;
  std::vector<PublicKeyInfo> PublicKeys() const;

  // The secret access key for an access key id (derived, 40 characters).
  std::string DeriveSecret(std::string_view access_key_id) const;

  const std::string& admin_token() const { return admin_token_; }
  const std::string& data_dir() const { return data_dir_; }

 private:
  KeyRing() = default;
  struct Key {
    std::string key_id;
    std::unique_ptr<crypto::Ed25519PrivateKey> private_key;  // stable address
    std::string public_key;
    std::int64_t created_at = 0;
  };
  mutable std::shared_mutex mutex_;  // guards keys_ and signer_index_
  std::mutex rotate_mutex_;          // serializes Rotate (held while writing the key file)
  std::string data_dir_;
  std::deque<Key> keys_;  // oldest first; a deque so element addresses survive Rotate
  std::size_t signer_index_ = 0;
  std::string derivation_secret_;
  std::string admin_token_;
};

// Creates a new access key id: "AKIA" (principal keys) or "ASIA" (session keys) + 16 base32.
std::string NewAccessKeyId(bool session_key);

}  // namespace xrole::session

#endif  // XROLE_SESSION_KEYRING_H_
