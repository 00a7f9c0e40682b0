// audit.h: the append-only, hash-chained audit log. Every state change and every decision is
// appended before the caller is answered. Records are chained: hash(n) = SHA-256(hash(n-1) ||
// canonical(n)), hash(0) = 64 zeros. Every `checkpoint_every_records` records, or
// `checkpoint_every_ms` after the last one, a checkpoint signed by the server's Ed25519 key
// pins (seq, hash). Verify() detects any edit, deletion, insertion, reordering, and truncation
// back past a checkpoint.
//
// AuditLog is a group-committing writer: Append() queues state mutations plus one event; one
// committer at a time (the writer thread, or a thread calling Flush() for the records it queued
// with AppendDeferred()) commits all queued entries in one store transaction, assigning seq and
// hash in queue order, then calls each entry's completion with its seq. A failed commit fails every
// entry in it and puts the log in a failed state where every later Append fails too (the
// broker then fails closed).
#ifndef XROLE_AUDIT_AUDIT_H_
#define XROLE_AUDIT_AUDIT_H_

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "store/store.h"
#include "xrole/status.h"

namespace xrole::audit {

// Who acted: the human on whose behalf, the agent, the parent session and the session.
// Empty strings mean "not involved". `principal` is the authenticated caller of the API
// ("admin", "agent:NAME", "human:NAME", "session:ID", "anonymous").
struct ActorChain {
  std::string principal;
  std::string human;
  std::string agent;
  std::string parent_session;
  std::string session;
};

struct Event {
  std::string type;  // "run.start", "session.assume", "authorize", "token.rejected", ...
  ActorChain actor;
  std::string run;
  std::string role;
  std::string policy_hash;  // hash of the policy version that applied, if any
  std::string outcome;      // "ok", "Allowed", "ExplicitlyDenied", "denied", "error", ...
  // Further fields as a JSON object text ("{}" or empty for none). Never secrets.
  std::string details_json;
  // True if `details_json` is already in canonical form (written by json::Writer with sorted
  // keys, integers only): it is then embedded as is instead of being parsed and re-encoded.
  bool details_canonical = false;
};

// The canonical body of an event: a JSON object with sorted keys and no insignificant
// whitespace, every string escaped the same way. Empty fields are omitted.
std::string CanonicalBody(const Event& event);
// The same bytes built through a JSON DOM: the obviously-correct form CanonicalBody is tested
// against, and its fallback for strings that are not valid UTF-8.
std::string CanonicalBodyViaDom(const Event& event);

// The bytes hashed for a record: canonical JSON of {seq, time, type, body}.
std::string CanonicalRecord(std::int64_t seq, std::int64_t time_ms, std::string_view type,
                            std::string_view body);
std::string ChainHash(std::string_view prev_hash_hex, std::string_view canonical_record);
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// What a checkpoint signature covers.
std::string CheckpointMessage(std::int64_t seq, std::string_view hash, std::int64_t time_ms);

// Public keys by key id (raw 32-byte Ed25519), for checkpoint verification.
using PublicKeys = std::map<std::string, std::string>;

struct Problem {
  std::int64_t seq = 0;  // the record (or checkpoint) where it was found
  std::string kind;      // "edited", "gap", "reordered", "inserted", "bad-link", "truncated",
                         // "bad-signature", "unknown-key", "checkpoint-mismatch"
  std::string message;
};

struct VerifyReport {
  bool ok = true;
  std::int64_t pruned_through = 0;  // the chain continues a recorded prune through this record
  std::int64_t records = 0;
  std::int64_t last_seq = 0;
  std::string last_hash;
  std::int64_t checkpoints = 0;
  std::int64_t last_checkpoint_seq = 0;
  std::vector<Problem> problems;
};

// The event type of a retention cut. Its details hold `throughSeq` and `hash`: the last removed
// record and its chain hash, which the next record links to.
inline constexpr std::string_view kPruneEventType = "audit.prune";

// Checks the whole chain and every checkpoint. Pure: no I/O. A chain may start after record 1
// when it continues a recorded prune (see FindStart in verify.cc).
// Holds every record: the reference ChainVerifier is tested against, for chains in memory.
VerifyReport Verify(const std::vector<store::AuditRow>& rows,
                    const std::vector<store::CheckpointRow>& checkpoints, const PublicKeys& keys);

struct ChainVerifierOptions {
  // How far apart, in records, two records may be for the verifier to relate them: to find the
  // record a moved or inserted one links to, or whether a missing seq comes later. The verifier
  // keeps this many records after the one it checks (whole) and before it (their seq, hash and
  // walk state). At least 1.
  std::size_t window = 1024;
};

// Verify() for chains too long to hold in memory: construct it with the checkpoints and keys,
// Add() each record in the order read (Store::ReadAudit's seq order), then Finish() once. Its
// memory holds the checkpoints, the problems found and `window` records on either side of the
// one being checked, never the chain.
//
// Finish() returns what Verify() returns for the same records in the same order, provided every
// record the walk relates to another lies within `window` records of it: a moved record and the
// record it was written after, the records on either side of an insertion, a seq missing here
// and present later. For damage spanning more records it still reports a problem (its report is
// ok exactly when Verify's is) but may describe it differently: a far-moved record as `edited`,
// an insertion as a `bad-link`, a far-displaced seq as a `gap`. Where the chain starts (after a
// recorded prune, see Verify) is decided exactly, however far away the `audit.prune` record is.
class ChainVerifier {
 public:
  ChainVerifier(std::vector<store::CheckpointRow> checkpoints, PublicKeys keys,
                ChainVerifierOptions options = {});
  ~ChainVerifier();
  ChainVerifier(ChainVerifier&&) noexcept;
  ChainVerifier& operator=(ChainVerifier&&) noexcept;

  // The next record. REQUIRES: Finish() has not been called.
  void Add(store::AuditRow row);
  // Checks what is still pending and returns the report. Call once; afterwards the verifier
  // holds nothing and takes no more records.
  VerifyReport Finish();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// One audit record as exported (JSON Lines): {seq, time, type, event, prevHash, hash}.
std::string ExportLine(const store::AuditRow& row);

struct AuditLogOptions {
  std::int64_t checkpoint_every_records = 1000;
  std::int64_t checkpoint_every_ms = 5000;
  std::size_t max_batch = 4096;  // entries per transaction
  // Group-commit delay, as PostgreSQL's commit_delay. While the log is busy (the previous
  // transaction carried at least `commit_delay_min_batch` records), the writer lets the oldest
  // queued entry wait up to this long (counted from its Append) for more entries, or until
  // `max_batch` are queued, before it commits; it stops waiting when no entry has arrived for a
  // quarter of the delay (at least 50 µs), as when every client is waiting for this commit. Each
  // transaction rewrites a fixed set of pages (the database header, the b-tree's interior pages,
  // the partly filled last leaf), so fewer, larger transactions write fewer bytes and make fewer
  // system calls per record. No entry waits longer than this in addition to the commit it is in; an
  // idle log never waits. Zero: off.
  std::chrono::microseconds commit_delay{0};
  std::size_t commit_delay_min_batch = 4;
};

// What the audit writer has done since it opened. Commits are the durable transactions, each
// carrying a batch of records (group commit): records / commits is the mean batch.
struct AuditLogStats {
  // Upper bounds (seconds) of the commit-duration histogram buckets; the last bucket is +Inf.
  static constexpr std::array<double, 9> kCommitBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                          0.025,  0.05,  0.1,    0.25};
  std::uint64_t commits = 0;
  std::uint64_t records = 0;
  std::uint64_t failed_commits = 0;
  // commit_buckets[i]: commits that took at most kCommitBounds[i] (not cumulative); the last
  // element counts the slower ones.
  std::array<std::uint64_t, kCommitBounds.size() + 1> commit_buckets{};
  double commit_seconds_sum = 0;
};

class AuditLog {
 public:
  using Done = std::function<void(Result<std::int64_t> seq)>;
  using Clock = std::function<std::int64_t()>;  // epoch ms

  // `signer` and `key_id` sign checkpoints; the caller keeps `store` alive.
  AuditLog(store::Store& store, const crypto::Ed25519PrivateKey* signer, std::string key_id,
           AuditLogOptions options = {});
  ~AuditLog();  // Stop()

  // Reads the chain head and starts the writer thread. Refuses a chain whose last record does
  // not match its own hash or that ends before the last checkpoint.
  Status Open();
  // Commits what is queued, writes a final checkpoint, stops the writer.
  void Stop();

  // Queues `mutations` and `event`; `done` runs on the committing thread (normally the writer)
  // after the commit, so it must not wait for the log itself. An exception it throws is
  // dropped. If the log is not open (or is
  // stopping), `done` runs at once with kUnavailable.
  void Append(std::vector<store::Mutation> mutations, Event event, Done done);
  // Append and wait. Not from a `done` callback.
  Result<std::int64_t> AppendAndWait(std::vector<store::Mutation> mutations, Event event);

  // Queues `event` (a record that changes no state) without waking the writer thread: the
  // caller promises to call Flush() soon, and the record is committed then by whichever thread
  // commits first. An event loop appends the records of every request it handled in one round
  // this way and then flushes once, so the round's records share one commit made on its own
  // thread, with no hand-off to the writer thread and back. If the log is not open, `done`
  // runs at once with kUnavailable.
  void AppendDeferred(Event event, Done done);
  // Commits the queued records on the calling thread (their `done` callbacks run here), unless
  // another thread is committing, which then commits them too. Never waits for another
  // committer; does no work when nothing is queued. Checkpoints are left to the writer thread.
  void Flush();

  // Switches the checkpoint signing key (key rotation); takes effect for the next checkpoint.
  // Once it returns the previous key is no longer used. A null signer writes no checkpoints.
  void SetSigner(const crypto::Ed25519PrivateKey* signer, std::string key_id);

  bool failed() const;
  std::int64_t last_seq() const;
  AuditLogStats stats() const;

 private:
  struct Entry {
    std::vector<store::Mutation> mutations;
    std::string type;  // the event's
    Done done;
    std::string body;  // CanonicalBody(event), computed by the appending thread
    std::chrono::steady_clock::time_point queued_at;
  };
  void WriterLoop();
  // The commit delay: waits (releasing `lock`) while entries keep arriving, until the oldest
  // queued one has waited `commit_delay` or `max_batch` are queued. Writer thread only.
  void WaitForFullerBatch(std::unique_lock<std::mutex>& lock);
  // Commits `entries` (possibly none) and, with `with_checkpoint`, a checkpoint if one is due
  // (`final`: if anything is not yet pinned), then runs their callbacks. REQUIRES: the caller
  // set `writing_` (it is the one committer); mutex_ not held.
  void CommitEntries(std::vector<Entry> entries, bool final, bool with_checkpoint = true);
  // Moves up to max_batch queued entries out of the queue: all of them, or with
  // `state_free_only` only the leading ones that carry no mutations. REQUIRES: mutex_ held.
  std::vector<Entry> TakeQueued(bool state_free_only);
  bool CheckpointPending() const;       // REQUIRES: mutex_ held
  bool CheckpointDueByRecords() const;  // REQUIRES: mutex_ held

  store::Store& store_;
  AuditLogOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Entry> queue_;
  const crypto::Ed25519PrivateKey* signer_;
  std::string key_id_;
  bool running_ = false;
  bool stopping_ = false;
  bool failed_ = false;
  std::string failure_;   // why the log failed
  bool writing_ = false;  // a thread (the writer or a Flush caller) is committing
  // Entries queued by Append whose appender did not wake the writer (it was busy or
  // committing): whoever commits next leaves none of them behind without waking the writer.
  std::size_t unannounced_ = 0;
  bool flush_skipped_ = false;       // a Flush found another committer, which then commits again
  bool writer_waiting_ = false;      // the writer sleeps until woken (or a checkpoint falls due)
  bool delaying_ = false;            // the writer waits for a batch to fill (commit_delay)
  std::size_t last_batch_size_ = 0;  // writer thread only
  std::int64_t last_seq_ = 0;
  std::string last_hash_;
  std::int64_t last_checkpoint_seq_ = 0;
  std::int64_t last_checkpoint_ms_ = 0;
  std::int64_t last_time_ms_ = 0;  // record times never go backwards
  AuditLogStats stats_;            // guarded by mutex_
  std::thread writer_;
};

std::int64_t NowMs();

}  // namespace xrole::audit

#endif  // XROLE_AUDIT_AUDIT_H_
