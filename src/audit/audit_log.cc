// AuditLog: the group-committing writer of the audit chain.
//
// Threads: appending threads encode their event and queue it. One committer at a time, the
// thread that set writing_ (the writer thread, or a Flush caller), owns the chain head
// (last_seq_, last_hash_, last_time_ms_ and the checkpoint cadence; it writes them under mutex_
// so that readers of last_seq() see a consistent value). While one commits a batch, new entries
// pile up in the queue and go into the next transaction together. Whoever stops committing
// wakes the writer if it leaves behind entries nobody else will commit (see Flush).
#include <algorithm>
#include <chrono>
#include <future>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "audit/audit.h"
#include "common/thread_name.h"

namespace xrole::audit {
namespace {

Error Unavailable(std::string_view why) {
  return Error(ErrorCode::kUnavailable, "audit log unavailable: " + std::string(why));
}

}  // namespace

AuditLog::AuditLog(store::Store& store, const crypto::Ed25519PrivateKey* signer, std::string key_id,
                   AuditLogOptions options)
    : store_(store),
      options_(options),
      signer_(signer),
      key_id_(std::move(key_id)),
      last_hash_(kGenesisHash) {
  options_.max_batch = std::max<std::size_t>(options_.max_batch, 1);
  options_.checkpoint_every_records = std::max<std::int64_t>(options_.checkpoint_every_records, 1);
}

AuditLog::~AuditLog() { Stop(); }

Status AuditLog::Open() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_) return Error(ErrorCode::kInternal, "audit log is already open");

  Result<std::optional<store::AuditRow>> last = store_.LastAudit();
  if (!last.ok()) return last.error().WithContext("reading the audit chain head");
  Result<std::vector<store::CheckpointRow>> checkpoints = store_.ReadCheckpoints();
  if (!checkpoints.ok()) return checkpoints.error().WithContext("reading audit checkpoints");

  std::int64_t seq = 0;
  std::string hash(kGenesisHash);
  std::int64_t time_ms = 0;
  if (last->has_value()) {
    const store::AuditRow& row = **last;
    if (ChainHash(row.prev_hash, CanonicalRecord(row.seq, row.time_ms, row.type, row.body)) !=
        row.hash) {
      return Error(ErrorCode::kInternal, "audit record " + std::to_string(row.seq) +
                                             " (the chain head) does not match its hash; run "
                                             "`xrole audit verify`");
    }
    seq = row.seq;
    hash = row.hash;
    time_ms = row.time_ms;
  }

  std::int64_t checkpoint_seq = 0;
  std::int64_t checkpoint_ms = NowMs();
  for (const store::CheckpointRow& checkpoint : *checkpoints) {
    if (checkpoint.seq >= checkpoint_seq) {
      checkpoint_seq = checkpoint.seq;
      checkpoint_ms = checkpoint.time_ms;
    }
    time_ms = std::max(time_ms, checkpoint.time_ms);
  }
  if (checkpoint_seq > seq) {
    return Error(ErrorCode::kInternal, "audit chain ends at record " + std::to_string(seq) +
                                           " but a checkpoint pins record " +
                                           std::to_string(checkpoint_seq) +
                                           " (truncated); run `xrole audit verify`");
  }

  last_seq_ = seq;
  last_hash_ = std::move(hash);
  last_time_ms_ = time_ms;
  last_checkpoint_seq_ = checkpoint_seq;
  last_checkpoint_ms_ = checkpoint_ms;
  failed_ = false;
  failure_.clear();
  stopping_ = false;
  running_ = true;
  writer_ = std::thread(&AuditLog::WriterLoop, this);
  return OkStatus();
}

void AuditLog::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!running_ || stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  running_ = false;
  stopping_ = false;
}

void AuditLog::Append(std::vector<store::Mutation> mutations, Event event, Done done) {
  // Only the type and the body go on: the event's strings are freed here, on the thread that
  // made them (freeing them on the writer thread cost the appending threads cache misses).
  std::string body = CanonicalBody(event);
  Entry entry{std::move(mutations), std::move(event.type), std::move(done), std::move(body),
              std::chrono::steady_clock::now()};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (running_ && !stopping_) {
      queue_.push_back(std::move(entry));
      if (writing_) {
        // The committer hands this entry to the writer when it is done; a wake-up now would
        // find it busy.
        ++unannounced_;
      } else if (writer_waiting_ || (delaying_ && queue_.size() >= options_.max_batch)) {
        // Otherwise the writer is awake and finds this entry on its next pass, and a wake-up
        // per entry would be a wasted syscall.
        wake_.notify_one();
      }
      return;
    }
  }
  if (entry.done) entry.done(Unavailable("the log is not open"));
}

void AuditLog::AppendDeferred(Event event, Done done) {
  std::string body = CanonicalBody(event);
  Entry entry{{},
              std::move(event.type),
              std::move(done),
              std::move(body),
              std::chrono::steady_clock::now()};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (running_ && !stopping_) {
      queue_.push_back(std::move(entry));
      return;
    }
  }
  if (entry.done) entry.done(Unavailable("the log is not open"));
}

void AuditLog::Flush() {
  // A committer that finds more entries queued by a skipped Flush commits them too, a few rounds
  // at most: its own thread has requests of its own to serve. What it leaves goes to the writer.
  constexpr int kMaxRounds = 4;
  std::unique_lock<std::mutex> lock(mutex_);
  if (!running_ || stopping_) return;  // the writer commits what is queued before it stops
  if (writing_) {
    flush_skipped_ = true;
    return;
  }
  for (int round = 0; round < kMaxRounds; ++round) {
    flush_skipped_ = false;
    std::vector<Entry> entries = TakeQueued(/*state_free_only=*/true);
    if (entries.empty()) break;
    writing_ = true;
    lock.unlock();
    CommitEntries(std::move(entries), /*final=*/false, /*with_checkpoint=*/false);
    lock.lock();
    writing_ = false;
    if (!flush_skipped_) break;
  }
  const bool state_change_first = !queue_.empty() && !queue_.front().mutations.empty();
  if (unannounced_ > 0 || flush_skipped_ || state_change_first || stopping_ ||
      CheckpointDueByRecords()) {
    wake_.notify_one();
  }
}

std::vector<AuditLog::Entry> AuditLog::TakeQueued(bool state_free_only) {
  std::size_t count = std::min(queue_.size(), options_.max_batch);
  if (state_free_only) {
    std::size_t free = 0;
    while (free < count && queue_[free].mutations.empty()) ++free;
    count = free;
  } else {
    unannounced_ = 0;
    flush_skipped_ = false;
  }
  std::vector<Entry> entries;
  entries.reserve(count);
  std::move(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count),
            std::back_inserter(entries));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count));
  return entries;
}

Result<std::int64_t> AuditLog::AppendAndWait(std::vector<store::Mutation> mutations, Event event) {
  std::promise<Result<std::int64_t>> promise;
  std::future<Result<std::int64_t>> future = promise.get_future();
  Append(std::move(mutations), std::move(event),
         [&promise](Result<std::int64_t> seq) { promise.set_value(std::move(seq)); });
  return future.get();
}

void AuditLog::SetSigner(const crypto::Ed25519PrivateKey* signer, std::string key_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  signer_ = signer;
  key_id_ = std::move(key_id);
  wake_.notify_one();  // a pending time-based checkpoint may now be possible
}

bool AuditLog::failed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failed_;
}

std::int64_t AuditLog::last_seq() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_seq_;
}

AuditLogStats AuditLog::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

bool AuditLog::CheckpointPending() const {
  return signer_ != nullptr && !failed_ && last_seq_ > last_checkpoint_seq_;
}

bool AuditLog::CheckpointDueByRecords() const {
  return CheckpointPending() &&
         last_seq_ - last_checkpoint_seq_ >= options_.checkpoint_every_records;
}

void AuditLog::WriterLoop() {
  NameThisThread("xrole-audit");
  std::unique_lock<std::mutex> lock(mutex_);
  // Commits only while no Flush caller does (writing_); such a caller wakes the writer when it
  // leaves work behind (see Flush).
  auto wait = [&] {
    writer_waiting_ = true;
    wake_.wait(lock);
    writer_waiting_ = false;
  };
  auto commit = [&](std::vector<Entry> entries, bool final) {
    writing_ = true;
    lock.unlock();
    CommitEntries(std::move(entries), final);
    lock.lock();
    writing_ = false;
  };
  while (true) {
    if (writing_) {
      wait();
      continue;
    }
    if (!queue_.empty()) {
      if (options_.commit_delay.count() > 0 &&
          last_batch_size_ >= options_.commit_delay_min_batch &&
          queue_.size() < options_.max_batch && !stopping_) {
        WaitForFullerBatch(lock);
        if (writing_ || queue_.empty()) continue;  // a Flush caller took them meanwhile
      }
      std::vector<Entry> entries = TakeQueued(/*state_free_only=*/false);
      last_batch_size_ = entries.size();
      commit(std::move(entries), /*final=*/false);
      continue;
    }
    if (stopping_) break;
    if (!CheckpointPending()) {
      wait();
      continue;
    }
    // Records not yet pinned: a checkpoint now if Flush callers (which write none) have
    // committed enough records, else when the time-based one falls due.
    std::int64_t wait_ms = last_checkpoint_ms_ + options_.checkpoint_every_ms - NowMs();
    if (wait_ms > 0 && !CheckpointDueByRecords()) {
      writer_waiting_ = true;
      wake_.wait_for(lock, std::chrono::milliseconds(wait_ms));
      writer_waiting_ = false;
      continue;
    }
    commit({}, /*final=*/true);
  }
  if (CheckpointPending()) commit({}, /*final=*/true);
}

void AuditLog::WaitForFullerBatch(std::unique_lock<std::mutex>& lock) {
  using SteadyClock = std::chrono::steady_clock;
  // Waiting pays only while entries keep coming: a pause of `gap` means the callers are waiting
  // for this commit (a closed loop of clients), so it commits at once.
  const auto gap =
      std::max<SteadyClock::duration>(options_.commit_delay / 4, std::chrono::microseconds(50));
  const SteadyClock::time_point deadline = queue_.front().queued_at + options_.commit_delay;
  delaying_ = true;
  while (!stopping_ && queue_.size() < options_.max_batch) {
    const SteadyClock::time_point now = SteadyClock::now();
    if (now >= deadline) break;
    const std::size_t seen = queue_.size();
    wake_.wait_until(lock, std::min(deadline, now + gap),
                     [this] { return stopping_ || queue_.size() >= options_.max_batch; });
    if (queue_.size() == seen) break;
  }
  delaying_ = false;
}

void AuditLog::CommitEntries(std::vector<Entry> entries, bool final, bool with_checkpoint) {
  // Only the committer (the thread that set writing_) changes the chain head, so it may read it
  // without the lock.
  store::Batch batch;
  batch.audit.reserve(entries.size());
  std::int64_t seq = last_seq_;
  std::string hash = last_hash_;
  const std::int64_t time_ms = std::max(NowMs(), last_time_ms_);
  for (Entry& entry : entries) {
    std::move(entry.mutations.begin(), entry.mutations.end(), std::back_inserter(batch.mutations));
    store::AuditRow row;
    row.seq = ++seq;
    row.time_ms = time_ms;
    row.type = std::move(entry.type);
    row.prev_hash = std::move(hash);
    row.hash = ChainHash(row.prev_hash, CanonicalRecord(row.seq, time_ms, row.type, entry.body));
    row.body = std::move(entry.body);
    hash = row.hash;
    batch.audit.push_back(std::move(row));
  }

  const bool checkpoint_due =
      with_checkpoint && seq > last_checkpoint_seq_ &&
      (final || seq - last_checkpoint_seq_ >= options_.checkpoint_every_records ||
       time_ms - last_checkpoint_ms_ >= options_.checkpoint_every_ms);
  Status status = OkStatus();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failed_) {
      status = Unavailable(failure_);
    } else if (checkpoint_due && signer_ != nullptr) {
      // Signed under the lock: SetSigner promises the old key is unused once it returns.
      std::string signature = signer_->Sign(CheckpointMessage(seq, hash, time_ms));
      batch.checkpoints.push_back(
          store::CheckpointRow{seq, hash, time_ms, key_id_, crypto::Base64Encode(signature)});
    }
  }

  const auto commit_start = std::chrono::steady_clock::now();
  const bool committing = status.ok() && !batch.empty();
  if (committing) status = store_.Commit(batch);
  const double commit_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - commit_start).count();

  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (committing) {
      if (status.ok()) {
        ++stats_.commits;
        stats_.records += batch.audit.size();
      } else {
        ++stats_.failed_commits;
      }
      const auto& bounds = AuditLogStats::kCommitBounds;
      const auto bucket = static_cast<std::size_t>(
          std::lower_bound(bounds.begin(), bounds.end(), commit_seconds) - bounds.begin());
      ++stats_.commit_buckets[bucket];
      stats_.commit_seconds_sum += commit_seconds;
    }
    if (status.ok()) {
      last_seq_ = seq;
      last_hash_ = hash;
      last_time_ms_ = time_ms;
      if (!batch.checkpoints.empty()) {
        last_checkpoint_seq_ = seq;
        last_checkpoint_ms_ = time_ms;
      }
    } else if (!failed_) {
      failed_ = true;
      failure_ = status.error().message();
      status = Unavailable(failure_);
    }
  }

  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!entries[i].done) continue;
    // A callback that throws (it may run on an event loop that writes the answer) must neither
    // leave the other entries unanswered nor the log with its committer gone.
    try {
      if (status.ok()) {
        entries[i].done(batch.audit[i].seq);
      } else {
        entries[i].done(status.error());
      }
    } catch (...) {
    }
  }
}

}  // namespace xrole::audit
