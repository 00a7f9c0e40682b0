#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <unordered_map>

#include "cli/commands/commands.h"
#include "common/json.h"
#include "policy/eval_case.h"
#include "xrole/policy.h"

namespace xrole::cli {
namespace {

using policy::EvalCase;

// Compiled policy sets by the canonical text of the case's policies: a file of many cases that
// share policies compiles them once.
class CompiledSetCache {
 public:
  explicit CompiledSetCache(const policy::Semantics& semantics) : semantics_(semantics) {}

  Result<std::shared_ptr<const policy::CompiledPolicySet>> Get(const EvalCase& c) {
    auto it = sets_.find(c.policy_key);
    if (it != sets_.end()) return it->second;
    XROLE_ASSIGN_OR_RETURN(auto compiled, policy::Compile(c.policies, semantics_));
    if (sets_.size() >= kMaxEntries) sets_.clear();
    sets_.emplace(c.policy_key, compiled);
    return compiled;
  }

 private:
  static constexpr std::size_t kMaxEntries = 4096;
  policy::Semantics semantics_;
  std::unordered_map<std::string, std::shared_ptr<const policy::CompiledPolicySet>> sets_;
};

std::string AnswerLine(const std::string& line, int line_number, const EvalOptions& options,
                       const policy::Semantics& semantics, CompiledSetCache& cache) {
  auto parsed = json::Parse(line, {}, line_number);
  if (!parsed.ok()) return policy::FormatError("", false, parsed.error());
  bool has_id = false;
  std::string id = policy::CaseId(**parsed, &has_id);
  auto c = policy::ParseEvalCase(**parsed);
  if (!c.ok()) return policy::FormatError(id, has_id, c.error());
  policy::EvaluationResult result;
  if (options.reference) {
    result = policy::EvaluateReference(c->policies, c->request, semantics, options.explain);
  } else {
    auto compiled = cache.Get(*c);
    if (!compiled.ok()) return policy::FormatError(id, has_id, compiled.error());
    policy::EvaluateOptions eval_options;
    eval_options.explain = options.explain;
    eval_options.use_index = !options.no_index;
    result = policy::Evaluate(**compiled, c->request, eval_options);
  }
  return policy::FormatResult(id, has_id, result);
}

}  // namespace

int RunEval(const EvalOptions& options) {
  policy::Semantics semantics;
  if (options.semantics == "oracle") {
    semantics = policy::Semantics::OracleCompatible();
  } else if (options.semantics != "documented") {
    std::fprintf(stderr, "xrole eval: unknown semantics `%s` (documented, oracle)\n",
                 options.semantics.c_str());
    return 2;
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (options.input != "-") {
    file.open(options.input);
    if (!file) {
      std::fprintf(stderr, "xrole eval: cannot open `%s`\n", options.input.c_str());
      return 2;
    }
    in = &file;
  }
  CompiledSetCache cache(semantics);
  std::string line, out;
  int line_number = 0;
  while (std::getline(*in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    out += AnswerLine(line, line_number, options, semantics, cache);
    out += '\n';
    if (out.size() > (1u << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (in->bad()) {
    std::fprintf(stderr, "xrole eval: error reading `%s`\n", options.input.c_str());
    return 2;
  }
  return 0;
}

}  // namespace xrole::cli
