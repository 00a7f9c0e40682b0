#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#include "cli/commands/commands.h"
#include "common/json.h"
#include "policy/eval_case.h"
#include "xrole/policy.h"

namespace xrole::cli {
namespace {

// Compiled policy sets by the canonical text of the case's policies: a file of many cases that
// share policies parses and compiles them once.
class CompiledSetCache {
 public:
  using Entry = std::shared_ptr<const policy::CompiledPolicySet>;

  const Entry* Find(const std::string& key) const {
    auto it = sets_.find(key);
    return it == sets_.end() ? nullptr : &it->second;
  }
  void Insert(const std::string& key, Entry compiled) {
    if (sets_.size() >= kMaxEntries) sets_.clear();
    sets_.emplace(key, std::move(compiled));
  }

 private:
  static constexpr std::size_t kMaxEntries = 4096;
  std::unordered_map<std::string, Entry> sets_;
};

// The id of a line that the strict parser rejected (a duplicate member, say), read leniently so
// the error line can still say which case it answers.
std::string RecoverId(const std::string& line, bool* has_id) {
  *has_id = false;
  auto lenient = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!lenient.is_object() || !lenient.contains("id")) return "";
  const auto& id = lenient["id"];
  if (id.is_string()) {
    *has_id = true;
    return id.get<std::string>();
  }
  if (id.is_number()) {
    *has_id = true;
    return id.dump();
  }
  return "";
}

std::string AnswerLine(const std::string& line, int line_number, const EvalOptions& options,
                       const policy::Semantics& semantics, CompiledSetCache& cache) {
  auto parsed = json::Parse(line, {}, line_number);
  bool has_id = false;
  if (!parsed.ok()) {
    std::string id = RecoverId(line, &has_id);
    return policy::FormatError(id, has_id, parsed.error());
  }
  std::string id = policy::CaseId(**parsed, &has_id);
  if (options.reference) {
    auto c = policy::ParseEvalCase(**parsed);
    if (!c.ok()) return policy::FormatError(id, has_id, c.error());
    return policy::FormatResult(
        id, has_id, policy::EvaluateReference(c->policies, c->request, semantics, options.explain));
  }
  // The request and the policies' key first; the documents only when their set is not cached.
  auto c = policy::ParseEvalCase(**parsed, /*parse_policies=*/false);
  if (!c.ok()) return policy::FormatError(id, has_id, c.error());
  const CompiledSetCache::Entry* compiled = cache.Find(c->policy_key);
  if (compiled == nullptr) {
    auto full = policy::ParseEvalCase(**parsed);
    if (!full.ok()) return policy::FormatError(id, has_id, full.error());
    auto fresh = policy::Compile(full->policies, semantics);
    if (!fresh.ok()) return policy::FormatError(id, has_id, fresh.error());
    cache.Insert(c->policy_key, *fresh);
    compiled = cache.Find(c->policy_key);
  }
  policy::EvaluateOptions eval_options;
  eval_options.explain = options.explain;
  eval_options.use_index = !options.no_index;
  return policy::FormatResult(id, has_id, policy::Evaluate(**compiled, c->request, eval_options));
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
  CompiledSetCache cache;
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
