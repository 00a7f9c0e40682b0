// generator.h: a seeded random generator of IAM evaluation cases for the differential tests and
// the evaluator fuzzer. It draws policies and requests from small shared pools of accounts,
// principals, actions, ARNs and condition keys so that statements match often, and covers the
// whole policy language the parser accepts: Action/NotAction, Resource/NotResource,
// Principal/NotPrincipal, every condition operator with IfExists and set qualifiers, policy
// variables, both versions, and every policy layer (identity, boundary, session, resource,
// trust, SCP, RCP). Output is eval-case JSON (design contract 4.1) and, for the hot loop of the
// differential test, the request directly as a policy::Request.
//
// A policy set and the requests asked against it are generated separately: one set can be
// parsed and compiled once and then asked many requests. Requests generated after a set stay
// compatible with it (a set whose resource policy is a role trust policy only gets sts:*
// requests on role ARNs, and the other way round), because the eval-case reader decides the
// resource policy's kind from the request.
#ifndef XROLE_TESTS_DIFFERENTIAL_GENERATOR_H_
#define XROLE_TESTS_DIFFERENTIAL_GENERATOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/eval_case.h"
#include "xrole/policy.h"
#include "xrole/status.h"

namespace xrole::testing {

// A stream of choices: a seeded PRNG (splitmix64), or the bytes of a fuzzer input (each choice
// consumes one or two bytes; an exhausted input answers 0, so generation always terminates).
class Choices {
 public:
  explicit Choices(std::uint64_t seed) : state_(seed) {}
  Choices(const std::uint8_t* data, std::size_t size)
      : data_(data), size_(size), from_bytes_(true) {}

  // Uniform in [0, n); 0 when n <= 1.
  std::uint32_t Below(std::uint32_t n);
  // True with probability `percent`/100.
  bool Percent(std::uint32_t percent) { return Below(100) < percent; }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Below(static_cast<std::uint32_t>(items.size()))];
  }

 private:
  std::uint64_t Next();

  std::uint64_t state_ = 0;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t pos_ = 0;
  bool from_bytes_ = false;
};

struct GeneratorOptions {
  // Keep to inputs the external oracle (iam-simulate) accepts and evaluates like its core
  // engine: no list values for single-valued context keys, context values as JSON strings (it
  // reprints numbers), and callers that fit the set (no principal-side policies for anonymous
  // callers, session policies only for roles, sessions and federated users, no boundary for
  // root). Also: resource policies only with non-STS requests on a resource, short ARNs only in
  // the Resource element of identity/boundary/session policies, and no '*' inside requested ARNs
  // (tests/differential/README.md gives the reasons).
  bool oracle_inputs = false;
  // Upper bound on statements per generated document.
  int max_statements = 4;
};

// One generated request, as data. Renders to the eval-case JSON and to a policy::Request that
// equals what ParseEvalCase reads from that JSON.
struct GeneratedRequest {
  struct Entry {
    enum class Json { kString, kNumber, kBool };
    std::string key;
    std::vector<std::string> values;
    bool is_list = false;
    Json json = Json::kString;  // how scalar (and list item) values are written
  };
  std::string principal;
  std::string action;
  std::string resource;
  std::string resource_account;  // "" = member omitted
  std::vector<Entry> context;

  policy::Request ToRequest() const;
  std::string ToJson() const;  // the "request" member's value
};

// What a generated policy set is about; requests drawn after it follow it.
struct SetProfile {
  int focus_service = 0;  // index into the service pool
  bool trust = false;     // resourcePolicy is a role trust policy
  bool has_resource_policy = false;
  bool has_principal_side = false;  // identity, boundary, session or SCPs present
  bool has_session = false;
  bool has_boundary = false;  // permissionBoundaries present
  // Concrete actions and ARNs the set's patterns were made from; requests reuse them often so
  // that statements match.
  std::vector<std::string> actions;
  std::vector<std::string> resources;
  // (action, ARN) pairs named by one statement.
  std::vector<std::pair<std::string, std::string>> pairs;
};

class CaseGenerator {
 public:
  CaseGenerator(Choices* choices, GeneratorOptions options = {});

  // The policy members of a case, comma-separated, without braces:
  // "\"identityPolicies\":[...],\"resourcePolicy\":{...}". Sets profile().
  std::string PolicySetMembers();
  const SetProfile& profile() const { return profile_; }

  // A request compatible with the last policy set.
  GeneratedRequest NextRequest();

  // A whole case: a new policy set and one request.
  std::string NextCase(std::string_view id);

  // Joins policy members and a request into one case line.
  static std::string CaseJson(std::string_view id, std::string_view policy_members,
                              const GeneratedRequest& request);
  // A request that fixes how the resource policy of a set with `profile` is parsed.
  static GeneratedRequest RepresentativeRequest(const SetProfile& profile);

 private:
  // Document generation.
  std::string Document(policy::PolicyKind kind);
  std::string NamedOrPlain(policy::PolicyKind kind);
  std::string Statement(policy::PolicyKind kind, bool v2012, int index);
  std::string ActionPattern();
  std::string ResourcePattern(bool v2012);
  std::string PrincipalBlock(bool allow_anonymous_forms);
  std::string Condition(bool v2012);
  std::string ScpOrRcpLevels(policy::PolicyKind kind);

  int Service();  // focus service most of the time

  Choices* choices_;
  GeneratorOptions options_;
  SetProfile profile_;
};

// Parses one case line with json::Parse + ParseEvalCase.
Result<policy::EvalCase> ParseCaseJson(std::string_view text);

// Field-by-field comparison of two requests; "" when equal, else what differs.
std::string DiffRequests(const policy::Request& a, const policy::Request& b);

// Equality of two results as the differential tests define it: decision, deniedBy, reasons.
bool SameResult(const policy::EvaluationResult& a, const policy::EvaluationResult& b);

}  // namespace xrole::testing

#endif  // XROLE_TESTS_DIFFERENTIAL_GENERATOR_H_
