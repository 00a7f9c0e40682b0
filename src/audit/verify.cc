// Verify(): walks the records in the order given and reports each tampering once. It holds the
// whole chain and may look at any record: it is the reference that ChainVerifier
// (chain_verifier.cc), which sees the records one at a time, is tested against.
//
// Every record is checked on its own (does its stored hash match its content, see
// `RecoverWrittenSeq`) and against its neighbour (does its prev_hash name the record listed
// before it). After a problem the walk re-syncs on the stored hash, so an edit shows up at the
// edited record only. A record whose hash matches only under another seq has been renumbered;
// that is how deletions, insertions and moves are told apart without reporting every record
// after them.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "audit/audit.h"
#include "audit/canonical.h"
#include "audit/verify_checks.h"

namespace xrole::audit {

std::string RecordsAre(std::int64_t first, std::int64_t last) {
  if (first == last) return "record " + std::to_string(first) + " is";
  return "records " + std::to_string(first) + ".." + std::to_string(last) + " are";
}

std::string EditedMessage(std::int64_t seq, bool canonical) {
  return "record " + std::to_string(seq) +
         (canonical ? " does not match its hash" : " body is not canonical JSON");
}

std::string WrittenAsMessage(std::int64_t seq, std::int64_t written_seq) {
  return "record " + std::to_string(seq) + " was written as record " + std::to_string(written_seq);
}

std::string LinksForwardMessage(std::int64_t seq, std::int64_t written_seq,
                                std::int64_t later_seq) {
  return WrittenAsMessage(seq, written_seq) + ": it links to record " + std::to_string(later_seq) +
         ", which comes after it";
}

std::string InsertedMessage(std::int64_t first, std::int64_t last, std::int64_t count,
                            std::int64_t seq, std::optional<std::int64_t> target_seq) {
  return RecordsAre(first, last) + " not part of the chain: record " + std::to_string(seq) +
         (count == 1 ? " links past it to " : " links past them to ") +
         (target_seq ? "record " + std::to_string(*target_seq)
                     : std::string("the start of the chain"));
}

std::string RenumberedGapMessage(std::int64_t first, std::int64_t last) {
  return RecordsAre(first, last) +
         " missing (as numbered when written); later records were renumbered";
}

std::string BadLinkMessage(std::int64_t seq, std::int64_t prev_seq) {
  return "record " + std::to_string(seq) + " does not link to record " + std::to_string(prev_seq) +
         ": that record was altered and rehashed, or replaced";
}

bool RecordsPruneOf(const store::AuditRow& row, std::int64_t through_seq, std::string_view hash) {
  if (row.type != kPruneEventType) return false;
  nlohmann::json body = nlohmann::json::parse(row.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return false;
  auto details = body.find("details");
  if (details == body.end() || !details->is_object()) return false;
  auto through = details->find("throughSeq");
  auto through_hash = details->find("hash");
  return through != details->end() && through->is_number_integer() &&
         through->get<std::int64_t>() == through_seq && through_hash != details->end() &&
         through_hash->is_string() && through_hash->get<std::string>() == hash;
}

void CheckCheckpoints(const std::vector<store::CheckpointRow>& checkpoints, const PublicKeys& keys,
                      const PinnedHashLookup& pinned_hash, VerifyReport& report) {
  const std::int64_t last_row_seq = report.last_seq;
  for (const store::CheckpointRow& checkpoint : checkpoints) {
    ++report.checkpoints;
    report.last_checkpoint_seq = std::max(report.last_checkpoint_seq, checkpoint.seq);
    const std::string where = "checkpoint at record " + std::to_string(checkpoint.seq);

    auto key = keys.find(checkpoint.key_id);
    if (key == keys.end()) {
      report.problems.push_back(
          Problem{checkpoint.seq, "unknown-key",
                  where + " is signed with unknown key `" + checkpoint.key_id + "`"});
    } else {
      Result<std::string> signature = crypto::Base64Decode(checkpoint.signature);
      if (!signature.ok() ||
          !crypto::Ed25519Verify(
              key->second, CheckpointMessage(checkpoint.seq, checkpoint.hash, checkpoint.time_ms),
              *signature)) {
        report.problems.push_back(
            Problem{checkpoint.seq, "bad-signature",
                    where + " has an invalid signature (key `" + checkpoint.key_id + "`)"});
      }
    }

    // A pinned record that is missing altogether is reported as a gap or as truncation.
    const std::string* hash = pinned_hash(checkpoint.seq);
    if (hash != nullptr && *hash != checkpoint.hash) {
      report.problems.push_back(
          Problem{checkpoint.seq, "checkpoint-mismatch",
                  where + " pins hash " + checkpoint.hash + " but the record has hash " + *hash});
    }
  }
  if (report.last_checkpoint_seq > last_row_seq) {
    report.problems.push_back(Problem{report.last_checkpoint_seq, "truncated",
                                      "the chain ends at record " + std::to_string(last_row_seq) +
                                          " but a checkpoint pins record " +
                                          std::to_string(report.last_checkpoint_seq)});
  }
}

namespace {

// What the walk learned about one record.
struct RecordState {
  std::int64_t written_seq = 0;  // the seq its hash was computed with (its own seq if unknown)
  bool edited = false;           // content does not match the stored hash under any seq
  bool suspect = false;          // edited, renumbered or reported: its neighbours' links are moot
};

// Where the walk starts: the genesis, or the record a recorded prune removed last.
struct ChainStart {
  std::int64_t seq = 0;
  std::string_view hash = kGenesisHash;
};

class ChainWalk {
 public:
  ChainWalk(const std::vector<store::AuditRow>& rows, VerifyReport& report)
      : rows_(rows), report_(report), states_(rows.size()) {}

  void Run(ChainStart start) {
    std::int64_t prev_seq = start.seq;
    std::int64_t prev_written = start.seq;
    std::string_view prev_hash = start.hash;
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const store::AuditRow& row = rows_[i];
      RecordState& state = states_[i];
      if (!SeqInRange(row.seq)) {
        Add(row.seq, "edited", "record number " + std::to_string(row.seq) + " is out of range");
        state.suspect = true;
        continue;
      }

      // 1. Numbering: seqs must run 1, 2, 3, ... in the order given.
      bool numbering_reported = true;
      if (row.seq <= prev_seq) {
        Add(row.seq, "reordered",
            "record " + std::to_string(row.seq) + " comes after record " +
                std::to_string(prev_seq));
      } else if (row.seq == prev_seq + 1) {
        numbering_reported = false;
      } else if (SeqPresent(prev_seq + 1)) {
        Add(row.seq, "reordered",
            "record " + std::to_string(row.seq) + " comes before record " +
                std::to_string(prev_seq + 1));
      } else {
        Add(prev_seq + 1, "gap", RecordsAre(prev_seq + 1, row.seq - 1) + " missing");
      }

      // 2. Content: the stored hash must be the chain hash of the record.
      std::optional<std::int64_t> written;
      bool canonical = IsCanonicalBody(row.body);
      if (canonical) written = RecoverWrittenSeq(i, prev_written);
      if (!written) {
        Add(row.seq, "edited", EditedMessage(row.seq, canonical));
        state.edited = true;
        written = prev_written + 1;
      }
      state.written_seq = *written;
      bool renumbered = !state.edited && state.written_seq != row.seq;

      // 3. Link: prev_hash must be the stored hash of the record before it.
      bool linked = row.prev_hash == prev_hash;
      bool suspect = numbering_reported || state.edited || renumbered;
      if (!numbering_reported && !state.edited) {
        if (!linked) {
          if (ClassifyBrokenLink(i, prev_seq, prev_written)) suspect = true;
        } else if (state.written_seq != prev_written + 1 && renumbered) {
          Add(row.seq, "reordered", WrittenAsMessage(row.seq, state.written_seq));
        }
      }
      state.suspect = suspect;

      prev_seq = std::max(prev_seq, row.seq);
      prev_written = state.written_seq;
      prev_hash = row.hash;
    }
  }

 private:
  void Add(std::int64_t seq, const char* kind, std::string message) {
    report_.problems.push_back(Problem{seq, kind, std::move(message)});
  }

  bool HashMatches(const store::AuditRow& row, std::int64_t seq) const {
    return ChainHash(row.prev_hash, CanonicalRecord(seq, row.time_ms, row.type, row.body)) ==
           row.hash;
  }

  // The index of the record whose stored hash is `hash`: -1 for the genesis hash, nullopt if
  // no record has it. The index is built on first use (only a damaged chain needs it).
  std::optional<std::ptrdiff_t> IndexOfHash(std::string_view hash) {
    if (hash == kGenesisHash) return -1;
    if (!by_hash_built_) {
      by_hash_.reserve(rows_.size());
      for (std::size_t i = 0; i < rows_.size(); ++i) {
        by_hash_.emplace(rows_[i].hash, static_cast<std::ptrdiff_t>(i));
      }
      by_hash_built_ = true;
    }
    auto it = by_hash_.find(hash);
    if (it == by_hash_.end()) return std::nullopt;
    return it->second;
  }

  // Whether any record (anywhere in the input) has number `seq`.
  bool SeqPresent(std::int64_t seq) {
    if (!seqs_built_) {
      seqs_.reserve(rows_.size());
      for (const store::AuditRow& row : rows_) seqs_.insert(row.seq);
      seqs_built_ = true;
    }
    return seqs_.count(seq) > 0;
  }

  // The seq record `i` was hashed with: its own seq for an intact record; for a renumbered
  // one, the seq that continues its predecessor's numbering or its neighbours'. nullopt if no
  // candidate matches (the content was edited).
  std::optional<std::int64_t> RecoverWrittenSeq(std::size_t i, std::int64_t prev_written) {
    const store::AuditRow& row = rows_[i];
    if (HashMatches(row, row.seq)) return row.seq;
    std::set<std::int64_t> tried{row.seq};
    auto try_seq = [&](std::int64_t seq) {
      return seq > 0 && tried.insert(seq).second && HashMatches(row, seq);
    };
    if (try_seq(prev_written + 1)) return prev_written + 1;
    if (try_seq(row.seq - 1)) return row.seq - 1;
    if (try_seq(row.seq + 1)) return row.seq + 1;
    if (std::optional<std::ptrdiff_t> pred = IndexOfHash(row.prev_hash)) {
      if (*pred < 0) {
        if (try_seq(1)) return 1;
      } else {
        auto pred_index = static_cast<std::size_t>(*pred);
        const std::int64_t pred_seq = rows_[pred_index].seq;
        if (SeqInRange(pred_seq) && try_seq(pred_seq + 1)) return pred_seq + 1;
        if (pred_index < i && try_seq(states_[pred_index].written_seq + 1)) {
          return states_[pred_index].written_seq + 1;
        }
      }
    }
    return std::nullopt;
  }

  // Record `i` is intact but does not link to the record before it. Reports why, unless that
  // follows from a problem already reported. Returns whether a problem was reported.
  bool ClassifyBrokenLink(std::size_t i, std::int64_t prev_seq, std::int64_t prev_written) {
    const store::AuditRow& row = rows_[i];
    const RecordState& state = states_[i];
    const bool renumbered = state.written_seq != row.seq;
    // A record after a moved or edited one: its link was broken by that record, not by it.
    if (i > 0 && states_[i - 1].suspect && !renumbered) return false;

    std::optional<std::ptrdiff_t> pred = IndexOfHash(row.prev_hash);
    const auto index = static_cast<std::ptrdiff_t>(i);
    if (pred && *pred > index) {
      Add(row.seq, "reordered",
          LinksForwardMessage(row.seq, state.written_seq,
                              rows_[static_cast<std::size_t>(*pred)].seq));
      return true;
    }
    if (pred && *pred < index - 1) {
      auto first = static_cast<std::size_t>(*pred + 1);
      if (states_[first].suspect) {
        // The records in between start with a moved one: this is the other end of a move.
        Add(row.seq, "reordered", WrittenAsMessage(row.seq, state.written_seq));
      } else {
        const std::optional<std::int64_t> target_seq =
            *pred < 0 ? std::nullopt : std::optional(rows_[static_cast<std::size_t>(*pred)].seq);
        Add(rows_[first].seq, "inserted",
            InsertedMessage(rows_[first].seq, rows_[i - 1].seq,
                            static_cast<std::int64_t>(i - first), row.seq, target_seq));
      }
      return true;
    }
    if (!pred && renumbered) {
      Add(prev_written + 1, "gap", RenumberedGapMessage(prev_written + 1, state.written_seq - 1));
      return true;
    }
    Add(row.seq, "bad-link", BadLinkMessage(row.seq, prev_seq));
    return true;
  }

  const std::vector<store::AuditRow>& rows_;
  VerifyReport& report_;
  std::vector<RecordState> states_;
  bool by_hash_built_ = false;
  std::unordered_map<std::string_view, std::ptrdiff_t> by_hash_;
  bool seqs_built_ = false;
  std::unordered_set<std::int64_t> seqs_;
};

// The checkpoint checks on records in memory: a checkpoint pins the first record with its seq.
void CheckCheckpointsOfRows(const std::vector<store::AuditRow>& rows,
                            const std::vector<store::CheckpointRow>& checkpoints,
                            const PublicKeys& keys, VerifyReport& report) {
  std::unordered_map<std::int64_t, const store::AuditRow*> pinned;
  for (const store::CheckpointRow& checkpoint : checkpoints)
    pinned.emplace(checkpoint.seq, nullptr);
  for (const store::AuditRow& row : rows) {
    auto it = pinned.find(row.seq);
    if (it != pinned.end() && it->second == nullptr) it->second = &row;
  }
  CheckCheckpoints(
      checkpoints, keys,
      [&pinned](std::int64_t seq) -> const std::string* {
        const store::AuditRow* row = pinned[seq];
        return row != nullptr ? &row->hash : nullptr;
      },
      report);
}

// A chain that starts after record C (> 0) continues one that was pruned through C: accepted
// only if a checkpoint pins C with the hash the first record links to (its signature is checked
// with the others) and the remaining chain holds the `audit.prune` record of that cut, naming
// C and that hash. Without both, the missing records are a gap like any other.
ChainStart FindStart(const std::vector<store::AuditRow>& rows,
                     const std::vector<store::CheckpointRow>& checkpoints) {
  if (rows.empty() || !SeqInRange(rows.front().seq) || rows.front().seq == 1) return {};
  const std::int64_t cut = rows.front().seq - 1;
  const std::string& hash = rows.front().prev_hash;
  bool pinned = std::any_of(checkpoints.begin(), checkpoints.end(), [&](const auto& checkpoint) {
    return checkpoint.seq == cut && checkpoint.hash == hash;
  });
  if (!pinned) return {};
  for (const store::AuditRow& row : rows) {
    if (RecordsPruneOf(row, cut, hash)) return ChainStart{cut, hash};
  }
  return {};
}

}  // namespace

VerifyReport Verify(const std::vector<store::AuditRow>& rows,
                    const std::vector<store::CheckpointRow>& checkpoints, const PublicKeys& keys) {
  VerifyReport report;
  report.records = static_cast<std::int64_t>(rows.size());
  for (const store::AuditRow& row : rows) {  // the highest genuine-looking number
    if (SeqInRange(row.seq) && row.seq >= report.last_seq) {
      report.last_seq = row.seq;
      report.last_hash = row.hash;
    }
  }
  ChainStart start = FindStart(rows, checkpoints);
  report.pruned_through = start.seq;
  ChainWalk(rows, report).Run(start);
  CheckCheckpointsOfRows(rows, checkpoints, keys, report);
  report.ok = report.problems.empty();
  return report;
}

}  // namespace xrole::audit
