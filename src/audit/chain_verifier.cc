// ChainVerifier: Verify() over a stream of records, in memory bounded by the checkpoints, the
// problems found and a fixed window of records around the one being checked.
//
// The walk is Verify's (verify.cc, read that first): the same checks in the same order, worded
// the same. Where Verify looks a record up anywhere in the chain (by its hash, or whether a seq
// occurs at all), this walk looks in a window instead: the `window` records walked before the
// current one, kept as their seq, hash and walk state, and the `window` records after it, kept
// whole (the walk runs `window` records behind Add). Two lookups reach past the window in Verify
// and are answered exactly here too: a link to the genesis hash names the first record wherever
// it occurs, so the first record's state is kept for good; and where the chain starts (FindStart)
// depends on an `audit.prune` record anywhere later, see below.
//
// Where the walk starts is known only once the whole chain has been seen: from the cut C when
// the first record, C+1, follows a checkpoint pinning C and some later record is the prune of
// C, else from the genesis. When a checkpoint pins the cut, two walks run side by side, one from
// either start, until a record of the prune of C settles the question and the genesis walk is
// dropped; Finish takes the walk that the answer picks. The two walks differ in their state
// only: each record's hashes are computed once for both (RecordHashes).
#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "audit/audit.h"
#include "audit/canonical.h"
#include "audit/verify_checks.h"

namespace xrole::audit {
namespace {

// Whether one record's stored hash is its chain hash under a given seq, and whether its body is
// canonical: each computed once, however many walks ask.
class RecordHashes {
 public:
  explicit RecordHashes(const store::AuditRow& row) : row_(row) {}

  bool canonical() {
    if (!canonical_) canonical_ = IsCanonicalBody(row_.body);
    return *canonical_;
  }

  bool MatchesAt(std::int64_t seq) {
    for (std::size_t i = 0; i < answered_; ++i) {
      if (answers_[i].first == seq) return answers_[i].second;
    }
    bool matches = ChainHash(row_.prev_hash,
                             CanonicalRecord(seq, row_.time_ms, row_.type, row_.body)) == row_.hash;
    if (answered_ < answers_.size()) answers_[answered_++] = {seq, matches};
    return matches;
  }

 private:
  const store::AuditRow& row_;
  std::optional<bool> canonical_;
  // A walk tries at most 6 seqs per record (WindowedWalk::RecoverWrittenSeq), two walks 12.
  std::array<std::pair<std::int64_t, bool>, 12> answers_{};
  std::size_t answered_ = 0;
};

// What the walk learned about one record (as in verify.cc).
struct RecordState {
  std::int64_t written_seq = 0;  // the seq its hash was computed with (its own seq if unknown)
  bool edited = false;           // content does not match the stored hash under any seq
  bool suspect = false;          // edited, renumbered or reported: its neighbours' links are moot
};

// What later records may consult about a walked one.
struct WalkedRecord {
  std::int64_t seq = 0;
  std::string hash;
  RecordState state;
};

// Verify's ChainWalk over a window. Records are identified by their index: their position in
// the order given, 0 for the first. The record being walked has index `index_`; the walked ones
// from index_ - window on are in `behind_`, the first one in `first_`, and the next ones (up to
// `window` of them) in `ahead`, which the owner fills.
class WindowedWalk {
 public:
  WindowedWalk(std::int64_t start_seq, std::string start_hash, std::size_t window,
               const std::deque<store::AuditRow>& ahead)
      : prev_seq_(start_seq),
        prev_written_(start_seq),
        prev_hash_(std::move(start_hash)),
        window_(window),
        behind_(window),
        ahead_(ahead) {}

  // Walks `row`, the record after the last one walked; `ahead_` holds the records after it.
  void Walk(const store::AuditRow& row, RecordHashes& hashes) {
    current_ = &row;
    RecordState state;
    if (!SeqInRange(row.seq)) {
      Add(row.seq, "edited", "record number " + std::to_string(row.seq) + " is out of range");
      state.suspect = true;
      Remember(row, state);
      return;
    }

    // 1. Numbering: seqs must run 1, 2, 3, ... in the order given.
    bool numbering_reported = true;
    if (row.seq <= prev_seq_) {
      Add(row.seq, "reordered",
          "record " + std::to_string(row.seq) + " comes after record " + std::to_string(prev_seq_));
    } else if (row.seq == prev_seq_ + 1) {
      numbering_reported = false;
    } else if (SeqAhead(prev_seq_ + 1)) {
      Add(row.seq, "reordered",
          "record " + std::to_string(row.seq) + " comes before record " +
              std::to_string(prev_seq_ + 1));
    } else {
      Add(prev_seq_ + 1, "gap", RecordsAre(prev_seq_ + 1, row.seq - 1) + " missing");
    }

    // 2. Content: the stored hash must be the chain hash of the record.
    std::optional<std::int64_t> written;
    const bool canonical = hashes.canonical();
    if (canonical) written = RecoverWrittenSeq(row, hashes);
    if (!written) {
      Add(row.seq, "edited", EditedMessage(row.seq, canonical));
      state.edited = true;
      written = prev_written_ + 1;
    }
    state.written_seq = *written;
    const bool renumbered = !state.edited && state.written_seq != row.seq;

    // 3. Link: prev_hash must be the stored hash of the record before it.
    const bool linked = row.prev_hash == prev_hash_;
    bool suspect = numbering_reported || state.edited || renumbered;
    if (!numbering_reported && !state.edited) {
      if (!linked) {
        if (ClassifyBrokenLink(row, state)) suspect = true;
      } else if (state.written_seq != prev_written_ + 1 && renumbered) {
        Add(row.seq, "reordered", WrittenAsMessage(row.seq, state.written_seq));
      }
    }
    state.suspect = suspect;

    prev_seq_ = std::max(prev_seq_, row.seq);
    prev_written_ = state.written_seq;
    prev_hash_ = row.hash;
    Remember(row, state);
  }

  std::vector<Problem> TakeProblems() { return std::move(problems_); }

 private:
  void Add(std::int64_t seq, const char* kind, std::string message) {
    problems_.push_back(Problem{seq, kind, std::move(message)});
  }

  // Files the walked record as index `index_` and moves on to the next.
  void Remember(const store::AuditRow& row, const RecordState& state) {
    WalkedRecord& slot = behind_[static_cast<std::size_t>(index_) % window_];
    slot.seq = row.seq;
    slot.hash = row.hash;  // reuses the slot's buffer
    slot.state = state;
    if (index_ == 0) first_ = slot;
    ++index_;
    current_ = nullptr;
  }

  // The oldest index still in `behind_`.
  std::int64_t OldestBehind() const {
    return std::max<std::int64_t>(0, index_ - static_cast<std::int64_t>(window_));
  }

  // A walked record. REQUIRES: index 0, or OldestBehind() <= index < index_.
  const WalkedRecord& Behind(std::int64_t index) const {
    if (index < OldestBehind()) return first_;  // index 0
    return behind_[static_cast<std::size_t>(index) % window_];
  }

  // The seq of the record at `index`: walked, the current one, or ahead. REQUIRES: in the window
  // (as IndexOfHash returns them) or 0.
  std::int64_t SeqAt(std::int64_t index) const {
    if (index < index_) return Behind(index).seq;
    if (index == index_) return current_->seq;
    return ahead_[static_cast<std::size_t>(index - index_ - 1)].seq;
  }

  // The index of the first record in the window whose stored hash is `hash`: -1 for the
  // genesis hash, nullopt if no record in the window has it.
  std::optional<std::int64_t> IndexOfHash(std::string_view hash) const {
    if (hash == kGenesisHash) return -1;
    for (std::int64_t index = OldestBehind(); index < index_; ++index) {
      if (Behind(index).hash == hash) return index;
    }
    if (current_->hash == hash) return index_;
    for (std::size_t i = 0; i < ahead_.size(); ++i) {
      if (ahead_[i].hash == hash) return index_ + 1 + static_cast<std::int64_t>(i);
    }
    return std::nullopt;
  }

  // Whether a record ahead has number `seq` (the walked ones all have lower numbers).
  bool SeqAhead(std::int64_t seq) const {
    return std::any_of(ahead_.begin(), ahead_.end(),
                       [seq](const store::AuditRow& row) { return row.seq == seq; });
  }

  // The seq the current record was hashed with: as verify.cc's RecoverWrittenSeq.
  std::optional<std::int64_t> RecoverWrittenSeq(const store::AuditRow& row, RecordHashes& hashes) {
    if (hashes.MatchesAt(row.seq)) return row.seq;
    std::array<std::int64_t, 6> tried{row.seq};
    std::size_t tried_count = 1;
    auto try_seq = [&](std::int64_t seq) {
      if (seq <= 0 || std::find(tried.begin(), tried.begin() + tried_count, seq) !=
                          tried.begin() + tried_count) {
        return false;
      }
      tried[tried_count++] = seq;
      return hashes.MatchesAt(seq);
    };
    if (try_seq(prev_written_ + 1)) return prev_written_ + 1;
    if (try_seq(row.seq - 1)) return row.seq - 1;
    if (try_seq(row.seq + 1)) return row.seq + 1;
    if (std::optional<std::int64_t> pred = IndexOfHash(row.prev_hash)) {
      if (*pred < 0) {
        if (try_seq(1)) return 1;
      } else {
        const std::int64_t pred_seq = SeqAt(*pred);
        if (SeqInRange(pred_seq) && try_seq(pred_seq + 1)) return pred_seq + 1;
        if (*pred < index_) {
          const std::int64_t after_pred = Behind(*pred).state.written_seq + 1;
          if (try_seq(after_pred)) return after_pred;
        }
      }
    }
    return std::nullopt;
  }

  // The current record is intact but does not link to the record before it: as verify.cc's
  // ClassifyBrokenLink. Returns whether a problem was reported.
  bool ClassifyBrokenLink(const store::AuditRow& row, const RecordState& state) {
    const bool renumbered = state.written_seq != row.seq;
    // A record after a moved or edited one: its link was broken by that record, not by it.
    if (index_ > 0 && Behind(index_ - 1).state.suspect && !renumbered) return false;

    std::optional<std::int64_t> pred = IndexOfHash(row.prev_hash);
    if (pred && *pred > index_) {
      Add(row.seq, "reordered", LinksForwardMessage(row.seq, state.written_seq, SeqAt(*pred)));
      return true;
    }
    if (pred && *pred < index_ - 1) {
      const std::int64_t first = *pred + 1;
      if (Behind(first).state.suspect) {
        // The records in between start with a moved one: this is the other end of a move.
        Add(row.seq, "reordered", WrittenAsMessage(row.seq, state.written_seq));
      } else {
        const std::int64_t first_seq = Behind(first).seq;
        Add(first_seq, "inserted",
            InsertedMessage(first_seq, Behind(index_ - 1).seq, index_ - first, row.seq,
                            *pred < 0 ? std::nullopt : std::optional(SeqAt(*pred))));
      }
      return true;
    }
    if (!pred && renumbered) {
      Add(prev_written_ + 1, "gap", RenumberedGapMessage(prev_written_ + 1, state.written_seq - 1));
      return true;
    }
    Add(row.seq, "bad-link", BadLinkMessage(row.seq, prev_seq_));
    return true;
  }

  std::int64_t prev_seq_;
  std::int64_t prev_written_;
  std::string prev_hash_;
  const std::size_t window_;
  std::int64_t index_ = 0;                    // of the record being walked (or to walk next)
  std::vector<WalkedRecord> behind_;          // index k at k % window_, for the last window_ walked
  WalkedRecord first_;                        // index 0, for links to the genesis
  const store::AuditRow* current_ = nullptr;  // the record being walked, during Walk
  const std::deque<store::AuditRow>& ahead_;
  std::vector<Problem> problems_;
};

}  // namespace

class ChainVerifier::Impl {
 public:
  Impl(std::vector<store::CheckpointRow> checkpoints, PublicKeys keys,
       const ChainVerifierOptions& options)
      : checkpoints_(std::move(checkpoints)),
        keys_(std::move(keys)),
        window_(std::max<std::size_t>(options.window, 1)) {
    for (const store::CheckpointRow& checkpoint : checkpoints_) {
      pinned_.emplace(checkpoint.seq, std::nullopt);
    }
    genesis_walk_.emplace(0, std::string(kGenesisHash), window_, ahead_);
  }

  void Add(store::AuditRow row) {
    ++report_.records;
    if (SeqInRange(row.seq) && row.seq >= report_.last_seq) {  // the highest genuine-looking
      report_.last_seq = row.seq;
      report_.last_hash = row.hash;
    }
    if (!pinned_.empty()) {
      auto pinned = pinned_.find(row.seq);
      if (pinned != pinned_.end() && !pinned->second) pinned->second = row.hash;
    }
    if (report_.records == 1) ConsiderPrunedStart(row);
    if (pruned_walk_ && genesis_walk_ && RecordsPruneOf(row, cut_, cut_hash_)) {
      genesis_walk_.reset();  // the chain continues the prune of cut_
    }
    ahead_.push_back(std::move(row));
    if (ahead_.size() > window_) WalkNext();
  }

  VerifyReport Finish() {
    while (!ahead_.empty()) WalkNext();
    // The genesis walk is gone once the chain recorded the prune its first record follows.
    const bool pruned = !genesis_walk_;
    report_.pruned_through = pruned ? cut_ : 0;
    report_.problems = pruned ? pruned_walk_->TakeProblems() : genesis_walk_->TakeProblems();
    CheckCheckpoints(
        checkpoints_, keys_,
        [this](std::int64_t seq) -> const std::string* {
          auto pinned = pinned_.find(seq);
          return pinned != pinned_.end() && pinned->second ? &*pinned->second : nullptr;
        },
        report_);
    report_.ok = report_.problems.empty();
    return std::move(report_);
  }

 private:
  // FindStart's first half, on the first record: the chain may continue a prune through the
  // record before it when a checkpoint pins that record with the hash the first one links to.
  void ConsiderPrunedStart(const store::AuditRow& first) {
    if (!SeqInRange(first.seq) || first.seq == 1) return;
    const std::int64_t cut = first.seq - 1;
    bool pinned =
        std::any_of(checkpoints_.begin(), checkpoints_.end(), [&](const auto& checkpoint) {
          return checkpoint.seq == cut && checkpoint.hash == first.prev_hash;
        });
    if (!pinned) return;
    cut_ = cut;
    cut_hash_ = first.prev_hash;
    pruned_walk_.emplace(cut_, cut_hash_, window_, ahead_);
  }

  // Walks the oldest record not yet walked, with every walk still in the running.
  void WalkNext() {
    store::AuditRow row = std::move(ahead_.front());
    ahead_.pop_front();
    RecordHashes hashes(row);
    if (genesis_walk_) genesis_walk_->Walk(row, hashes);
    if (pruned_walk_) pruned_walk_->Walk(row, hashes);
  }

  const std::vector<store::CheckpointRow> checkpoints_;
  const PublicKeys keys_;
  const std::size_t window_;
  // The stored hash of the first record numbered as each checkpoint's seq, once one was added.
  std::unordered_map<std::int64_t, std::optional<std::string>> pinned_;
  VerifyReport report_;                       // records, last_seq and last_hash so far
  std::deque<store::AuditRow> ahead_;         // added but not yet walked: at most window_
  std::optional<WindowedWalk> genesis_walk_;  // from the genesis; gone once the prune is seen
  std::optional<WindowedWalk> pruned_walk_;   // from the cut, if a checkpoint pins it
  std::int64_t cut_ = 0;
  std::string cut_hash_;
};

ChainVerifier::ChainVerifier(std::vector<store::CheckpointRow> checkpoints, PublicKeys keys,
                             ChainVerifierOptions options)
    : impl_(std::make_unique<Impl>(std::move(checkpoints), std::move(keys), options)) {}
ChainVerifier::~ChainVerifier() = default;
ChainVerifier::ChainVerifier(ChainVerifier&&) noexcept = default;
ChainVerifier& ChainVerifier::operator=(ChainVerifier&&) noexcept = default;

void ChainVerifier::Add(store::AuditRow row) { impl_->Add(std::move(row)); }

VerifyReport ChainVerifier::Finish() {
  VerifyReport report = impl_->Finish();
  impl_.reset();
  return report;
}

}  // namespace xrole::audit
