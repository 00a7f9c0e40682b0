// compiled_policy_set.h: the immutable, indexed form of a PolicySet; the compiled evaluator's
// only input. Built once by compiler.h, then shared as shared_ptr<const CompiledPolicySet> and
// evaluated from any number of threads without locks (there is no mutable state at all).
//
// Every statement of every policy becomes one CompiledStatement. Statements are numbered in
// reason order: RCP levels, SCP levels, resource policy, identity, boundary, session, and
// within a layer by level, policy and statement, so walking candidates in number order lists
// reasons in the order docs/evaluation-logic.md prescribes. Statements whose allows are ORed
// together form a group (one per RCP/SCP level, one per other layer); a layer's verdict is read
// per group.
#ifndef XROLE_POLICY_COMPILED_POLICY_SET_H_
#define XROLE_POLICY_COMPILED_POLICY_SET_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/arn.h"
#include "policy/conditions.h"
#include "policy/document.h"
#include "policy/glob.h"
#include "policy/principal.h"
#include "xrole/policy.h"

namespace xrole::policy {

// One Action/NotAction entry.
struct CompiledAction {
  enum class Kind { kAll, kNever, kPattern };
  Kind kind = Kind::kNever;  // kNever: no ':' , empty name or whitespace in the name
  std::string service;       // kPattern: lower-cased prefix
  std::string name_text;     // kPattern: lower-cased name as written
  Glob name;                 // kPattern: lower-cased name pattern
  bool Matches(std::string_view service_lower, std::string_view name_lower) const;
};

struct CompiledStatement {
  enum class PrincipalTest { kNone, kPrincipal, kNotPrincipal, kNever };

  std::uint32_t group = 0;
  Layer layer = Layer::kNone;
  Effect effect = Effect::kAllow;
  bool not_action = false;
  std::vector<CompiledAction> actions;
  // True when the action index alone decides the action test (Action lists without "*" or
  // NotAction): candidates found through the index need no action check.
  bool action_indexed = false;
  bool has_resources = false;  // false: the statement matches any resource (trust policies)
  bool not_resource = false;
  // Resource/NotResource entries as ids into CompiledPolicySet::resource_patterns(). Equal
  // entries share one id, so a request matches each distinct pattern at most once.
  std::vector<std::uint32_t> resources;
  PrincipalTest principal_test = PrincipalTest::kNone;
  const PrincipalBlock* principal = nullptr;  // owned by the set's documents
  std::vector<CompiledCondition> conditions;
  Reason reason;                      // the reason this statement contributes
  const Statement* source = nullptr;  // owned by the set's documents
};

// A necessary condition for ResourcePattern::Match, checked first because it is much cheaper:
// the literal text a matching ARN must start with (the pattern up to its first wildcard; the
// first `folded` characters lie in the case-insensitive fields, partition to account), and
// for six-field patterns ':' followed by the literal start of the resource field, which must
// occur in the ARN. Empty (admits everything) for "*" and for patterns with policy variables,
// whose outcome may be kUnresolved, which only Match can tell.
struct ResourcePrefilter {
  std::string prefix;
  std::size_t folded = 0;
  std::string resource_start;  // ":" + literal start of the resource field, or ""
  bool Admits(std::string_view resource) const;
};

struct StatementGroup {
  Layer layer = Layer::kNone;
  int level = -1;  // RCP/SCP level, -1 for the other layers
};

// Action lookup: lower-cased service prefix -> exact lower-cased names and wildcard patterns;
// `always` holds the statements every request must check (Action "*", every NotAction).
// Statement lists are sorted and free of duplicates.
struct ActionIndex {
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <typename V>
  using Map = std::unordered_map<std::string, V, Hash, std::equal_to<>>;

  struct Wildcard {
    Glob name;  // lower-cased, has wildcards
    std::vector<std::uint32_t> statements;
  };
  struct Service {
    Map<std::vector<std::uint32_t>> exact;  // name -> statements
    std::vector<std::uint32_t> any_name;    // "svc:*"
    std::vector<Wildcard> wildcards;        // one entry per distinct pattern
  };
  Map<Service> services;
  std::vector<std::uint32_t> always;
};

// Immutable after Compile() returns.
class CompiledPolicySet {
 public:
  const Semantics& semantics() const { return semantics_; }
  const std::vector<CompiledStatement>& statements() const { return statements_; }
  const std::vector<StatementGroup>& groups() const { return groups_; }
  const ActionIndex& index() const { return index_; }
  const std::vector<ResourcePattern>& resource_patterns() const { return resource_patterns_; }
  // Parallel to resource_patterns().
  const std::vector<ResourcePrefilter>& resource_prefilters() const { return resource_prefilters_; }

  bool has_resource_policy() const { return has_resource_policy_; }
  bool has_boundaries() const { return has_boundaries_; }
  bool has_session_policies() const { return has_session_policies_; }
  bool has_scps() const { return has_scps_; }
  bool has_rcps() const { return has_rcps_; }
  // Group ids. RCP level i is group rcp_group_begin()+i (likewise SCPs).
  std::uint32_t rcp_group_begin() const { return rcp_group_begin_; }
  std::uint32_t rcp_levels() const { return rcp_levels_; }
  std::uint32_t scp_group_begin() const { return scp_group_begin_; }
  std::uint32_t scp_levels() const { return scp_levels_; }
  std::uint32_t resource_group() const { return resource_group_; }
  std::uint32_t identity_group() const { return identity_group_; }
  std::uint32_t boundary_group() const { return boundary_group_; }
  std::uint32_t session_group() const { return session_group_; }

 private:
  friend class PolicySetCompiler;

  Semantics semantics_;
  std::vector<std::shared_ptr<const PolicyDocument>> documents_;  // keep AST pointers valid
  std::vector<CompiledStatement> statements_;
  std::vector<StatementGroup> groups_;
  ActionIndex index_;
  std::vector<ResourcePattern> resource_patterns_;
  std::vector<ResourcePrefilter> resource_prefilters_;
  bool has_resource_policy_ = false;
  bool has_boundaries_ = false;
  bool has_session_policies_ = false;
  bool has_scps_ = false;
  bool has_rcps_ = false;
  std::uint32_t rcp_group_begin_ = 0;
  std::uint32_t rcp_levels_ = 0;
  std::uint32_t scp_group_begin_ = 0;
  std::uint32_t scp_levels_ = 0;
  std::uint32_t resource_group_ = 0;
  std::uint32_t identity_group_ = 0;
  std::uint32_t boundary_group_ = 0;
  std::uint32_t session_group_ = 0;
};

}  // namespace xrole::policy

#endif  // XROLE_POLICY_COMPILED_POLICY_SET_H_
