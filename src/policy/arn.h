// arn.h: ARN fields and the Resource/NotResource matching rules of iam-semantics.md 2.3-2.4.
// An ARN has six colon-separated fields (arn, partition, service, region, account, resource);
// splitting stops after the fifth colon, so the resource field keeps its own ':' and '/'.
#ifndef XROLE_POLICY_ARN_H_
#define XROLE_POLICY_ARN_H_

#include <array>
#include <string_view>
#include <vector>

#include "policy/glob.h"
#include "policy/variables.h"
#include "xrole/policy.h"

namespace xrole::policy {

struct ArnFields {
  std::array<std::string_view, 6> field{};
  int count = 0;  // fields found (1..6); a well-formed ARN has 6 and field[0] == "arn"
};

// Splits at most five times. Colons inside ${...} (policy variables) do not split when
// `brace_aware` is set.
ArnFields SplitArn(std::string_view arn, bool brace_aware = false);

// True for "arn:<partition>:<service>:<region>:<account>:<resource>" with non-empty
// partition, service and resource.
bool IsWellFormedArn(std::string_view arn);

// The account field of an ARN ("" when absent or not an ARN).
std::string_view ArnAccount(std::string_view arn);

// One Resource/NotResource entry, pre-split and pre-compiled.
class ResourcePattern {
 public:
  // `text` as written in the policy; variables are recognised when `variables_enabled`.
  static ResourcePattern Compile(std::string_view text, bool variables_enabled);

  enum class Outcome { kMatch, kNoMatch, kUnresolved };  // kUnresolved: a variable is missing

  // Matches a concrete resource ARN (2.3). "*" matches everything, including text that is not
  // an ARN; every other pattern needs a resource of six fields. The arn, partition, service,
  // region and account fields are globbed ASCII-case-insensitively, the resource field
  // case-sensitively. Each of the first five fields matches exactly one request field; the
  // resource field spans the rest, colons included. A pattern with fewer than six fields
  // matches only when its last field ends in '*', which then spans everything left (with
  // semantics.oracle_short_arn_padding: padded with "*" fields to six instead).
  // kUnresolved when a variable cannot be resolved (the entry then matches nothing). With
  // semantics.oracle_resource_type_prefix a six-field pattern first needs its partition to
  // account fields (those without variables) to match and the resource field to start with
  // the pattern's resource type taken literally; failing that, it is kNoMatch.
  Outcome Match(std::string_view resource, const Context& context,
                const Semantics& semantics) const;

  // Matches a request for an action that takes no resource (2.4): "*" matches; with
  // semantics.service_wide_arn_covers_resourceless_actions, so does an ARN whose partition
  // field matches `partition` (the caller's; glob, case-insensitive), whose service field
  // matches `action_service` (glob, case-insensitive; a plain service name must equal it), and
  // whose region, account and resource fields are each empty or exactly "*". A short pattern
  // counts only when it could match a full ARN (last field ending in '*', or padded with
  // semantics.oracle_short_arn_padding); its missing fields count as "*". Without the switch
  // only "*" matches, and variables are not even resolved.
  Outcome MatchResourceless(std::string_view action_service, const Context& context,
                            const Semantics& semantics, std::string_view partition = "aws") const;

  bool is_match_all() const { return match_all_; }
  const std::string& text() const { return text_; }

 private:
  // The field globs to match with: the precompiled ones, or for a pattern with variables their
  // expansion into `scratch`. nullptr when a variable cannot be resolved.
  const std::array<Glob, 6>* FieldGlobs(const Context& context, const Semantics& semantics,
                                        std::array<Glob, 6>* scratch) const;

  std::string text_;
  bool match_all_ = false;
  int field_count_ = 0;
  std::array<Template, 6> fields_;  // only the first field_count_ are used
  // INVARIANT: globs_[i] is fields_[i] compiled whenever fields_[i] has no variables.
  bool has_variables_ = false;
  std::array<Glob, 6> globs_;
  // The oracle's resource type: the raw resource field up to and including its first '/' or
  // ':' ("" when it has neither, and for s3 patterns with empty region and account).
  std::string type_prefix_;
};

}  // namespace xrole::policy

#endif  // XROLE_POLICY_ARN_H_
