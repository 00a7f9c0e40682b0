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

// Field f matches request token f (the text up to its colon); the last field takes the rest.
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

// Matches `count` pattern fields against the six-field ARN `resource`. Fields 0..count-2 each
// end at a colon of `resource`; the last field runs to the end of `resource` (the resource
// field, or for a short pattern, the field that spans what is left). A field other than the
// last that ends in '*' may run over further colons. Costs O(count * colons) glob matches in
// the usual case; allocates only for resources with more than kInlineStarts - 1 colons.
bool MatchFields(const Glob* const* globs, int count, std::string_view resource) {
  // Absorbing only adds ways to match, so the one-to-one reading decides most requests.
  if (MatchFieldsOneToOne(globs, count, resource)) return true;
  const int last = count - 1;
  bool absorbs = false;
  for (int f = 0; f < last; ++f) absorbs = absorbs || globs[f]->ends_with_star();
  if (!absorbs) return false;

  // A field may start at 0 or after any colon: starts[k] is the k-th such position, and
  // reach[k] says the current field may start there.
  // INVARIANT: a glob ending in '*' that matches a text also matches every extension of it,
  // so once such a field matches up to one colon, every later colon is reachable too.
  constexpr std::size_t kInlineStarts = 64;
  std::size_t start_count = 1;
  for (char c : resource) start_count += c == ':' ? 1 : 0;
  std::size_t inline_starts[kInlineStarts];
  char inline_reach[kInlineStarts];
  char inline_next[kInlineStarts];
  std::vector<std::size_t> heap_starts;
  std::string heap_reach;
  std::string heap_next;
  std::size_t* starts = inline_starts;
  char* reach = inline_reach;
  char* next = inline_next;
  if (start_count > kInlineStarts) {
    heap_starts.resize(start_count);
    heap_reach.resize(start_count);
    heap_next.resize(start_count);
    starts = heap_starts.data();
    reach = heap_reach.data();
    next = heap_next.data();
  }
  std::size_t n = 0;
  starts[n++] = 0;
  for (std::size_t i = 0; i < resource.size(); ++i) {
    if (resource[i] == ':') starts[n++] = i + 1;
  }
  const std::size_t colons = start_count - 1;
  auto colon_at = [&](std::size_t e) { return starts[e + 1] - 1; };  // e-th colon's position
  std::fill(reach, reach + start_count, 0);
  reach[0] = 1;
  for (int f = 0; f < last; ++f) {
    const Glob& glob = *globs[f];
    const bool fold = FoldsCase(f);
    std::fill(next, next + start_count, 0);
    bool any = false;
    if (!glob.ends_with_star()) {
      for (std::size_t k = 0; k < colons; ++k) {
        if (!reach[k]) continue;
        const std::size_t begin = starts[k];
        if (glob.Matches(resource.substr(begin, colon_at(k) - begin), fold)) {
          next[k + 1] = 1;
          any = true;
        }
      }
    } else {
      std::size_t closed_from = colons;  // every end e >= closed_from is reachable
      for (std::size_t k = 0; k < closed_from; ++k) {
        if (!reach[k]) continue;
        const std::size_t begin = starts[k];
        for (std::size_t e = k; e < closed_from; ++e) {
          if (glob.Matches(resource.substr(begin, colon_at(e) - begin), fold)) {
            closed_from = e;
            break;
          }
        }
      }
      for (std::size_t e = closed_from; e < colons; ++e) {
        next[e + 1] = 1;
        any = true;
      }
    }
    if (!any) return false;
    std::swap(reach, next);
  }
  for (std::size_t k = 0; k < start_count; ++k) {
    if (reach[k] && globs[last]->Matches(resource.substr(starts[k]), FoldsCase(last))) {
      return true;
    }
  }
  return false;
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
  if (!p.has_variables_) {
    const Context empty;
    for (std::size_t i = 0; i < static_cast<std::size_t>(f.count); ++i) {
      p.fields_[i].ExpandToGlob(empty, &p.globs_[i]);
    }
  }
  return p;
}

ResourcePattern::Outcome ResourcePattern::Match(std::string_view resource, const Context& context,
                                                const Semantics& semantics) const {
  if (match_all_) return Outcome::kMatch;
  if (field_count_ == 0) return Outcome::kNoMatch;
  const std::size_t count = static_cast<std::size_t>(field_count_);
  std::array<Glob, kArnFields> expanded;
  const std::array<Glob, kArnFields>* globs = &globs_;
  if (has_variables_) {
    for (std::size_t i = 0; i < count; ++i) {
      if (!fields_[i].ExpandToGlob(context, &expanded[i])) return Outcome::kUnresolved;
    }
    globs = &expanded;
  }
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
  return MatchFields(fields.data(), used, resource) ? Outcome::kMatch : Outcome::kNoMatch;
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
  const std::array<Glob, kArnFields>* globs = &globs_;
  if (has_variables_) {
    for (std::size_t i = 0; i < count; ++i) {
      if (!fields_[i].ExpandToGlob(context, &expanded[i])) return Outcome::kUnresolved;
    }
    globs = &expanded;
  }
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
