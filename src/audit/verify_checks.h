// verify_checks.h: the parts of chain verification that Verify() (verify.cc, the whole-chain
// reference) and ChainVerifier (chain_verifier.cc, the streaming form) share, so that both word
// what they find the same way. Internal to src/audit.
#ifndef XROLE_AUDIT_VERIFY_CHECKS_H_
#define XROLE_AUDIT_VERIFY_CHECKS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit.h"
#include "store/store.h"

namespace xrole::audit {

// Record numbers outside 1..2^62 can only be forged (and would overflow the walk's arithmetic).
inline bool SeqInRange(std::int64_t seq) { return seq >= 1 && seq <= (std::int64_t{1} << 62); }

// "record 5 is" or "records 5..7 are".
std::string RecordsAre(std::int64_t first, std::int64_t last);

// The wording of what a walk finds, one function per finding.
// "record S does not match its hash" (or, when its body is not canonical JSON, says so).
std::string EditedMessage(std::int64_t seq, bool canonical);
// "record S was written as record W".
std::string WrittenAsMessage(std::int64_t seq, std::int64_t written_seq);
// WrittenAsMessage, then that it links to record `later_seq`, which comes after it.
std::string LinksForwardMessage(std::int64_t seq, std::int64_t written_seq, std::int64_t later_seq);
// Records first..last (`count` of them) are inserted: record `seq` links past them to record
// `target_seq`, or to the start of the chain when there is none.
std::string InsertedMessage(std::int64_t first, std::int64_t last, std::int64_t count,
                            std::int64_t seq, std::optional<std::int64_t> target_seq);
// Records first..last (as numbered when written) are missing; later ones were renumbered.
std::string RenumberedGapMessage(std::int64_t first, std::int64_t last);
// Record `seq` does not link to record `prev_seq`.
std::string BadLinkMessage(std::int64_t seq, std::int64_t prev_seq);

// True if `row` is an `audit.prune` record (kPruneEventType) whose details name the cut
// `through_seq` and its chain hash `hash`.
bool RecordsPruneOf(const store::AuditRow& row, std::int64_t through_seq, std::string_view hash);

// The stored hash of the first record (in the order given) numbered `seq`; nullptr if none is.
using PinnedHashLookup = std::function<const std::string*(std::int64_t seq)>;

// Checks each checkpoint in turn: its key is known, its signature verifies, and it pins the hash
// of the record with its seq (a pinned record that is missing altogether is left to the walk,
// as a gap, or to the truncation check). Then reports `truncated` if a checkpoint pins a record
// after `report.last_seq`. Appends the problems in that order and sets `report.checkpoints` and
// `report.last_checkpoint_seq`. REQUIRES: `report.last_seq` is final.
void CheckCheckpoints(const std::vector<store::CheckpointRow>& checkpoints, const PublicKeys& keys,
                      const PinnedHashLookup& pinned_hash, VerifyReport& report);

}  // namespace xrole::audit

#endif  // XROLE_AUDIT_VERIFY_CHECKS_H_
