#include "session/keyring.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>
#include <utility>

namespace xrole::session {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kSecretBytes = 32;
constexpr std::string_view kKeyFilePrefix = "ed25519-";
constexpr std::string_view kKeyFileSuffix = ".pem";

Error IoError(std::string_view what, const std::string& path, int error_number) {
  return Error(ErrorCode::kUnavailable,
               std::string(what) + " `" + path + "`: " + std::strerror(error_number));
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting the error close(2) may carry.
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// mkdir with mode 0700; an existing directory is accepted as it is.
Status MakePrivateDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0) return OkStatus();
  const int error_number = errno;
  struct stat st {};
  if (error_number == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return OkStatus();
  }
  return IoError("cannot create directory", path, error_number);
}

Status SyncDirectory(const std::string& path) {
  FileDescriptor dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0 || ::fsync(dir.get()) != 0) return IoError("cannot sync", path, errno);
  return OkStatus();
}

struct FileContent {
  std::string content;
  std::int64_t modified_at = 0;  // epoch seconds
};

// Reads the regular file at `path` (kNotFound when absent). With `secret`, the file must be
// accessible only by its owner.
Result<FileContent> ReadFile(const std::string& path, bool secret) {
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (file.get() < 0) {
    if (errno == ENOENT) return Error(ErrorCode::kNotFound, "`" + path + "` does not exist");
    if (errno == ELOOP) {
      return Error(ErrorCode::kPermissionDenied, "`" + path + "` is a symbolic link");
    }
    return IoError("cannot open", path, errno);
  }
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return IoError("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return Error(ErrorCode::kPermissionDenied, "`" + path + "` is not a regular file");
  }
  if (secret && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return Error(ErrorCode::kPermissionDenied,
                 "`" + path + "` is accessible by group or others (mode " + mode +
                     "); restrict it with `chmod 600 " + path + "`");
  }
  FileContent result;
  result.modified_at = st.st_mtime;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(file.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("cannot read", path, errno);
    if (n == 0) break;
    result.content.append(buffer, static_cast<std::size_t>(n));
  }
  return result;
}

// Creates `path` (mode 0600) holding `content`, atomically and without replacing an existing
// file: temporary file, fsync, link(2) into place, fsync of the directory. Returns false when
// `path` already existed (its content is left alone).
Result<bool> CreateSecretFile(const std::string& path, std::string_view content) {
  const fs::path target(path);
  const std::string dir = target.parent_path().string();
  std::string temp = dir + "/." + target.filename().string() + ".tmp-XXXXXX";
  FileDescriptor file(::mkstemp(temp.data()));  // mode 0600
  if (file.get() < 0) return IoError("cannot create a temporary file in", dir, errno);
  auto fail = [&](std::string_view what, int error_number) -> Error {
    ::unlink(temp.c_str());
    return IoError(what, temp, error_number);
  };
  for (std::size_t written = 0; written < content.size();) {
    const ssize_t n = ::write(file.get(), content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write", errno);
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(file.get()) != 0) return fail("cannot sync", errno);
  if (file.Close() != 0) return fail("cannot close", errno);
  const int linked = ::link(temp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(temp.c_str());
  if (linked != 0) {
    if (link_errno == EEXIST) return false;
    return IoError("cannot create", path, link_errno);
  }
  XROLE_RETURN_IF_ERROR(SyncDirectory(dir));
  return true;
}

// Reads the secret file at `path`, first creating it from `make_content()` when absent.
template <typename MakeContent>
Result<FileContent> ReadOrCreateSecretFile(const std::string& path, MakeContent make_content) {
  auto existing = ReadFile(path, /*secret=*/true);
  if (existing.ok() || existing.error().code() != ErrorCode::kNotFound) return existing;
  FileContent created{make_content(), static_cast<std::int64_t>(std::time(nullptr))};
  XROLE_ASSIGN_OR_RETURN(const bool won, CreateSecretFile(path, created.content));
  if (!won) return ReadFile(path, /*secret=*/true);  // another process created it first
  return created;
}

std::string KeyIdOf(std::string_view public_key) {
  return "k-" + crypto::Sha256Hex(public_key).substr(0, 16);
}

struct KeyFile {
  std::uint64_t sequence = 0;
  std::string key_id;
  std::string path;
};

// The key files in `keys_dir`, oldest (smallest sequence) first. Other names are ignored.
Result<std::vector<KeyFile>> ListKeyFiles(const std::string& keys_dir) {
  std::vector<KeyFile> files;
  std::error_code ec;
  for (fs::directory_iterator it(keys_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::string_view rest = name;
    if (rest.substr(0, kKeyFilePrefix.size()) != kKeyFilePrefix ||
        rest.size() < kKeyFilePrefix.size() + kKeyFileSuffix.size() ||
        rest.substr(rest.size() - kKeyFileSuffix.size()) != kKeyFileSuffix) {
      continue;
    }
    rest.remove_prefix(kKeyFilePrefix.size());
    rest.remove_suffix(kKeyFileSuffix.size());
    KeyFile file;
    const auto [end_of_number, parse_error] =
        std::from_chars(rest.data(), rest.data() + rest.size(), file.sequence);
    if (parse_error != std::errc() || end_of_number == rest.data() ||
        end_of_number == rest.data() + rest.size() || *end_of_number != '-') {
      continue;
    }
    file.key_id = std::string(end_of_number + 1, rest.data() + rest.size());
    file.path = it->path().string();
    files.push_back(std::move(file));
  }
  if (ec) return IoError("cannot list", keys_dir, ec.value());
  std::sort(files.begin(), files.end(), [](const KeyFile& a, const KeyFile& b) {
    return a.sequence != b.sequence ? a.sequence < b.sequence : a.key_id < b.key_id;
  });
  return files;
}

// The key ids listed in the optional file `path`, one per line.
Result<std::set<std::string>> ReadRetired(const std::string& path) {
  std::set<std::string> retired;
  auto file = ReadFile(path, /*secret=*/false);
  if (!file.ok()) {
    if (file.error().code() == ErrorCode::kNotFound) return retired;
    return file.error();
  }
  std::string_view rest = file->content;
  while (!rest.empty()) {
    const std::size_t newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) continue;
    line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
    retired.emplace(line);
  }
  return retired;
}

std::string KeyFilePath(const std::string& keys_dir, std::uint64_t sequence,
                        std::string_view key_id) {
  char number[24];
  std::snprintf(number, sizeof number, "%06llu", static_cast<unsigned long long>(sequence));
  return keys_dir + "/" + std::string(kKeyFilePrefix) + number + "-" + std::string(key_id) +
         std::string(kKeyFileSuffix);
}

}  // namespace

Result<std::unique_ptr<KeyRing>> KeyRing::Open(const std::string& data_dir) {
  std::unique_ptr<KeyRing> ring(new KeyRing());
  ring->data_dir_ = data_dir;
  fs::path dir(data_dir);
  if (!dir.has_filename()) dir = dir.parent_path();  // "data/" names "data"
  const fs::path parent = dir.parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) return IoError("cannot create directory", parent.string(), ec.value());
  XROLE_RETURN_IF_ERROR(MakePrivateDirectory(data_dir));
  const std::string keys_dir = data_dir + "/keys";
  XROLE_RETURN_IF_ERROR(MakePrivateDirectory(keys_dir));

  const std::string secret_path = data_dir + "/secret.key";
  XROLE_ASSIGN_OR_RETURN(FileContent secret, ReadOrCreateSecretFile(secret_path, [] {
                           return crypto::RandomBytes(kSecretBytes);
                         }));
  if (secret.content.size() != kSecretBytes) {
    return Error(ErrorCode::kInternal, "`" + secret_path + "` holds " +
                                           std::to_string(secret.content.size()) + " bytes, not " +
                                           std::to_string(kSecretBytes));
  }
  ring->derivation_secret_ = std::move(secret.content);

  const std::string token_path = data_dir + "/admin.token";
  XROLE_ASSIGN_OR_RETURN(FileContent token, ReadOrCreateSecretFile(token_path, [] {
                           return "xadm_" + crypto::Base64UrlEncode(crypto::RandomBytes(32)) + "\n";
                         }));
  const auto token_end = token.content.find_last_not_of(" \t\r\n");
  if (token_end == std::string::npos) {
    return Error(ErrorCode::kInternal, "`" + token_path + "` is empty");
  }
  token.content.resize(token_end + 1);
  ring->admin_token_ = std::move(token.content);

  XROLE_ASSIGN_OR_RETURN(const std::vector<KeyFile> files, ListKeyFiles(keys_dir));
  XROLE_ASSIGN_OR_RETURN(const std::set<std::string> retired, ReadRetired(keys_dir + "/retired"));
  bool have_signer = false;
  for (const KeyFile& file : files) {
    XROLE_ASSIGN_OR_RETURN(FileContent pem, ReadFile(file.path, /*secret=*/true));
    auto key = crypto::Ed25519PrivateKey::FromPem(pem.content);
    if (!key.ok()) {
      return Error(ErrorCode::kInternal, "`" + file.path + "`: " + key.error().message());
    }
    Key loaded;
    loaded.public_key = key->PublicKeyRaw();
    loaded.key_id = KeyIdOf(loaded.public_key);
    if (loaded.key_id != file.key_id) {
      return Error(ErrorCode::kInternal, "`" + file.path + "` holds key `" + loaded.key_id +
                                             "`, not the key its name says");
    }
    loaded.private_key = std::make_unique<crypto::Ed25519PrivateKey>(std::move(key).value());
    loaded.created_at = pem.modified_at;
    if (retired.count(loaded.key_id) == 0) {
      ring->signer_index_ = ring->keys_.size();
      have_signer = true;
    }
    ring->keys_.push_back(std::move(loaded));
  }
  if (!have_signer) {  // a fresh directory, or every key retired
    auto created = ring->Rotate();
    if (!created.ok()) return created.error();
  }
  return ring;
}

const crypto::Ed25519PrivateKey& KeyRing::signer() const {
  std::shared_lock lock(mutex_);
  return *keys_[signer_index_].private_key;
}

std::string KeyRing::signer_id() const {
  std::shared_lock lock(mutex_);
  return keys_[signer_index_].key_id;
}

Result<std::string> KeyRing::Rotate() {
  std::lock_guard rotate_lock(rotate_mutex_);
  const std::string keys_dir = data_dir_ + "/keys";
  // The directory, not memory, decides the number: another process may have rotated.
  XROLE_ASSIGN_OR_RETURN(const std::vector<KeyFile> files, ListKeyFiles(keys_dir));
  const std::uint64_t sequence = files.empty() ? 1 : files.back().sequence + 1;
  Key key;
  key.private_key =
      std::make_unique<crypto::Ed25519PrivateKey>(crypto::Ed25519PrivateKey::Generate());
  key.public_key = key.private_key->PublicKeyRaw();
  key.key_id = KeyIdOf(key.public_key);
  key.created_at = std::time(nullptr);
  const std::string path = KeyFilePath(keys_dir, sequence, key.key_id);
  XROLE_ASSIGN_OR_RETURN(const bool created, CreateSecretFile(path, key.private_key->ToPem()));
  if (!created) return Error(ErrorCode::kAlreadyExists, "`" + path + "` already exists");
  std::string key_id = key.key_id;
  std::unique_lock lock(mutex_);
  keys_.push_back(std::move(key));
  signer_index_ = keys_.size() - 1;
  return key_id;
}

const std::string* KeyRing::PublicKey(std::string_view key_id) const {
  std::shared_lock lock(mutex_);
  for (const Key& key : keys_) {
    if (key.key_id == key_id) return &key.public_key;
  }
  return nullptr;
}

std::vector<PublicKeyInfo> KeyRing::PublicKeys() const {
  std::shared_lock lock(mutex_);
  std::vector<PublicKeyInfo> infos;
  infos.reserve(keys_.size());
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    infos.push_back(
        {keys_[i].key_id, keys_[i].public_key, i == signer_index_, keys_[i].created_at});
  }
  return infos;
}

std::string KeyRing::DeriveSecret(std::string_view access_key_id) const {
  std::string message = "xrole-akid:";
  message += access_key_id;
  const crypto::Digest mac = crypto::HmacSha256(derivation_secret_, message);
  return crypto::Base64Encode(
             std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()))
      .substr(0, 40);
}

std::string NewAccessKeyId(bool session_key) {
  // 10 random bytes are exactly 16 base32 characters (80 bits).
  return (session_key ? "ASIA" : "AKIA") + crypto::Base32Encode(crypto::RandomBytes(10));
}

}  // namespace xrole::session
