// compiler.h: PolicySet -> CompiledPolicySet, the step between the parser's ASTs and the
// compiled evaluator. Compilation runs as named passes over every statement of every policy:
//   CollectStatements         number statements in reason order, assign groups and reasons
//   CompilePatterns           Action/NotAction entries and Resource/NotResource ARNs
//   CompileConditionOperands  condition clauses with typed, pre-parsed policy values
//   IndexActions              the action index (service -> exact names / wildcards / always)
// The public entry point is xrole::policy::Compile (include/xrole/policy.h).
#ifndef XROLE_POLICY_COMPILER_H_
#define XROLE_POLICY_COMPILER_H_

#include <memory>
#include <string>
#include <vector>

#include "policy/compiled_policy_set.h"
#include "xrole/policy.h"
#include "xrole/status.h"

namespace xrole::policy {

class PolicySetCompiler {
 public:
  PolicySetCompiler(const PolicySet& set, const Semantics& semantics);

  // Runs every pass once. The compiler is single-use.
  Result<std::shared_ptr<const CompiledPolicySet>> Run();

 private:
  Status CollectStatements();
  void CompilePatterns();
  void CompileConditionOperands();
  void IndexActions();

  void AddPolicy(const Policy& policy, Layer layer, std::uint32_t group, std::string label);

  const PolicySet& set_;
  std::shared_ptr<CompiledPolicySet> out_;
  // Per statement (parallel to out_->statements_): whether ${...} variables are active.
  std::vector<bool> variables_enabled_;
};

}  // namespace xrole::policy

#endif  // XROLE_POLICY_COMPILER_H_
