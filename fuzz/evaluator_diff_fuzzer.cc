// Differential fuzzing of the evaluators: the input bytes are the choices of the differential
// tests' case generator (tests/differential/generator.h), so every input is a valid policy set
// and a few requests. The compiled evaluator, with and without its action index, must agree
// with the reference evaluator on decision, deniedBy and reasons, under both Documented() and
// OracleCompatible() semantics; any disagreement prints the case and aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "differential/generator.h"
#include "policy/eval_case.h"
#include "xrole/policy.h"

namespace {

void Check(const xrole::policy::PolicySet& set, const xrole::testing::GeneratedRequest& generated,
           const std::string& members, const xrole::policy::Semantics& semantics,
           const char* label) {
  auto compiled = xrole::policy::Compile(set, semantics);
  if (!compiled.ok()) {
    std::fprintf(stderr, "compile failed (%s): %s\n%s\n", label,
                 compiled.error().ToString().c_str(), members.c_str());
    std::abort();
  }
  const xrole::policy::Request request = generated.ToRequest();
  xrole::policy::EvaluateOptions scan;
  scan.use_index = false;
  const auto ref = xrole::policy::EvaluateReference(set, request, semantics);
  const auto indexed = xrole::policy::Evaluate(**compiled, request);
  const auto scanned = xrole::policy::Evaluate(**compiled, request, scan);
  if (!xrole::testing::SameResult(ref, indexed) || !xrole::testing::SameResult(ref, scanned)) {
    std::fprintf(
        stderr,
        "evaluators disagree (%s):\n%s\n  reference: %s\n  indexed:   %s\n  scan:      %s\n", label,
        xrole::testing::CaseGenerator::CaseJson("fuzz", members, generated).c_str(),
        xrole::policy::FormatResult("", false, ref).c_str(),
        xrole::policy::FormatResult("", false, indexed).c_str(),
        xrole::policy::FormatResult("", false, scanned).c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  xrole::testing::Choices choices(data, size);
  xrole::testing::CaseGenerator generator(&choices);
  const std::string members = generator.PolicySetMembers();
  auto parsed = xrole::testing::ParseCaseJson(xrole::testing::CaseGenerator::CaseJson(
      "fuzz", members, xrole::testing::CaseGenerator::RepresentativeRequest(generator.profile())));
  if (!parsed.ok()) {
    std::fprintf(stderr, "generated policy set rejected: %s\n%s\n",
                 parsed.error().ToString().c_str(), members.c_str());
    std::abort();
  }
  for (int i = 0; i < 4; ++i) {
    const xrole::testing::GeneratedRequest request = generator.NextRequest();
    Check(parsed->policies, request, members, xrole::policy::Semantics::Documented(), "documented");
    Check(parsed->policies, request, members, xrole::policy::Semantics::OracleCompatible(),
          "oracle-compatible");
  }
  return 0;
}
