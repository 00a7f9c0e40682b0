#include "policy/arn.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace xrole::policy {
namespace {

constexpr int kArnFields = 6;
constexpr int kResourceField = 5;

const Glob& MatchAllGlob() {
  static const Glob* const kGlob = new Glob(Glob::FromPattern("*"));
  return *kGlob;
}

// Whether field `index` of a pattern compares case-insensitively.
bool FoldsCase(int index) { return index < kResourceField; }

// Field f matches request token f (the text up to its colon); the last field takes the rest:
// the resource field of a six-field pattern, or the trailing-'*' field of a short one.
// NOTE: a '*' ending one of the first five fields of a six-field pattern does not run over
// colons. AWS documents the expansion for a pattern's last field only; letting a region '*'
// swallow the account field would let `arn:aws:svc:*:111122223333:x/*` match resources of
// other accounts (docs/fidelity.md).
bool MatchFieldsOneToOne(const Glob* const* globs, int count, std::string_view resource) {
  const int last = count - 1;
  std::size_t pos = 0;
  for (int f = 0; f < last; ++f) {
    const std::size_t colon = resource.find(':', pos);
    if (colon == std::string_view::npos) return false;
    if (!globs[f]->Matches(resource.substr(pos, colon - pos), FoldsCase(f))) return false;
    pos = colon + 1;
  }
  return globs[last]->Matches(resource.substr(pos), FoldsCase(last));
}

}  // namespace

ArnFields SplitArn(std::string_view arn, bool brace_aware) {
  ArnFields out;
  std::size_t start = 0;
  int depth = 0;
  for (std::size_t i = 0; i < arn.size() && out.count < kArnFields - 1; ++i) {
    const char c = arn[i];
    if (brace_aware) {
      if (c == '$' && i + 1 < arn.size() && arn[i + 1] == '{') {
        ++depth;
        ++i;
        continue;
      }
      if (c == '}' && depth > 0) {
        --depth;
        continue;
      }
      if (depth > 0) continue;
    }
    if (c == ':') {
      out.field[static_cast<std::size_t>(out.count++)] = arn.substr(start, i - start);
      start = i + 1;
    }
  }
  out.field[static_cast<std::size_t>(out.count++)] = arn.substr(start);
  return out;
}

bool IsWellFormedArn(std::string_view arn) {
  const ArnFields f = SplitArn(arn);
  return f.count == kArnFields && f.field[0] == "arn" && !f.field[1].empty() &&
         !f.field[2].empty() && !f.field[5].empty();
}

std::string_view ArnAccount(std::string_view arn) {
  const ArnFields f = SplitArn(arn);
  if (f.count != kArnFields || f.field[0] != "arn") return {};
  return f.field[4];
}

ResourcePattern ResourcePattern::Compile(std::string_view text, bool variables_enabled) {
  ResourcePattern p;
  p.text_ = std::string(text);
  p.match_all_ = text == "*";
  const ArnFields f = SplitArn(text, variables_enabled);
  p.field_count_ = f.count;
  for (std::size_t i = 0; i < static_cast<std::size_t>(f.count); ++i) {
    p.fields_[i] = Template::Parse(f.field[i], variables_enabled);
    p.has_variables_ = p.has_variables_ || p.fields_[i].has_variables();
  }
  if (f.count == kArnFields) {
    const std::string_view resource = f.field[kResourceField];
    const bool s3_bucket_form = f.field[2] == "s3" && f.field[3].empty() && f.field[4].empty();
    const std::size_t cut = resource.find_first_of("/:");
    if (!s3_bucket_form && cut != std::string_view::npos) {
      p.type_prefix_ = std::string(resource.substr(0, cut + 1));
    }
  }
  const Context empty;
  for (std::size_t i = 0; i < static_cast<std::size_t>(f.count); ++i) {
    if (!p.fields_[i].has_variables()) p.fields_[i].ExpandToGlob(empty, &p.globs_[i]);
  }
  return p;
}

const std::array<Glob, kArnFields>* ResourcePattern::FieldGlobs(
    const Context& context, const Semantics& semantics,
    std::array<Glob, kArnFields>* scratch) const {
  if (!has_variables_) return &globs_;
  for (int i = 0; i < field_count_; ++i) {
    const auto index = static_cast<std::size_t>(i);
    if (!fields_[index].ExpandToGlob(context, &(*scratch)[index],
                                     !semantics.empty_variable_value_substitutes)) {
      return nullptr;
    }
  }
  return scratch;
}

ResourcePattern::Outcome ResourcePattern::Match(std::string_view resource, const Context& context,
                                                const Semantics& semantics) const {
  if (match_all_) return Outcome::kMatch;
  if (field_count_ == 0) return Outcome::kNoMatch;
  const std::size_t count = static_cast<std::size_t>(field_count_);
  if (semantics.oracle_resource_type_prefix && field_count_ == kArnFields) {
    const ArnFields r = SplitArn(resource);
    if (r.count != kArnFields) return Outcome::kNoMatch;
    for (std::size_t i = 0; i < static_cast<std::size_t>(kResourceField); ++i) {
      if (!fields_[i].has_variables() &&
          !globs_[i].Matches(r.field[i], FoldsCase(static_cast<int>(i)))) {
        return Outcome::kNoMatch;
      }
    }
    if (r.field[kResourceField].substr(0, type_prefix_.size()) != type_prefix_) {
      return Outcome::kNoMatch;
    }
  }
  std::array<Glob, kArnFields> expanded;
  const std::array<Glob, kArnFields>* globs = FieldGlobs(context, semantics, &expanded);
  if (globs == nullptr) return Outcome::kUnresolved;
  if (SplitArn(resource).count != kArnFields) return Outcome::kNoMatch;

  std::array<const Glob*, kArnFields> fields{};
  for (std::size_t i = 0; i < count; ++i) fields[i] = &(*globs)[i];
  int used = field_count_;
  if (used < kArnFields) {
    if (semantics.oracle_short_arn_padding) {
      for (std::size_t i = count; i < fields.size(); ++i) fields[i] = &MatchAllGlob();
      used = kArnFields;
    } else if (!fields[count - 1]->ends_with_star()) {
      return Outcome::kNoMatch;
    }
  }
  return MatchFieldsOneToOne(fields.data(), used, resource) ? Outcome::kMatch : Outcome::kNoMatch;
}

ResourcePattern::Outcome ResourcePattern::MatchResourceless(std::string_view action_service,
                                                            const Context& context,
                                                            const Semantics& semantics,
                                                            std::string_view partition) const {
  if (match_all_) return Outcome::kMatch;
  if (!semantics.service_wide_arn_covers_resourceless_actions) return Outcome::kNoMatch;
  if (field_count_ == 0) return Outcome::kNoMatch;
  const std::size_t count = static_cast<std::size_t>(field_count_);
  std::array<Glob, kArnFields> expanded;
  const std::array<Glob, kArnFields>* globs = FieldGlobs(context, semantics, &expanded);
  if (globs == nullptr) return Outcome::kUnresolved;
  const auto& g = *globs;
  if (count < static_cast<std::size_t>(kArnFields) && !semantics.oracle_short_arn_padding &&
      !g[count - 1].ends_with_star()) {
    return Outcome::kNoMatch;
  }
  if (!g[0].Matches("arn", true)) return Outcome::kNoMatch;
  if (count > 1 && !g[1].Matches(partition, true)) return Outcome::kNoMatch;
  if (count > 2 && !g[2].Matches(action_service, true)) return Outcome::kNoMatch;
  for (std::size_t i = 3; i < count; ++i) {
    if (!g[i].empty() && !g[i].is_match_all()) return Outcome::kNoMatch;
  }
  return Outcome::kMatch;
}

}  // namespace xrole::policy
