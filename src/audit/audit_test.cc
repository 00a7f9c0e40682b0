#include "audit/audit.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "audit/canonical.h"
#include "common/crypto.h"
#include "store/store.h"
#include "support/eventually.h"
#include "support/temp_dir.h"

namespace xrole::audit {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Test fixtures: temporary files, direct SQL, events, wrapped stores

struct TempDir : xrole::testing::TempDir {
  TempDir() : xrole::testing::TempDir("xrole-audit") {}
};

// Runs `sql` on the database file directly, as anyone with write access to the file could.
void Tamper(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message << " in: " << sql;
}

// `text` as an SQL string literal.
std::string SqlQuote(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) {
    quoted += c;
    if (c == '\'') quoted += '\'';
  }
  return quoted + "'";
}

Event MakeEvent(int n) {
  Event event;
  event.type = "authorize";
  event.actor.principal = "agent:deployer";
  event.actor.human = "human:alice";
  event.actor.agent = "deployer";
  event.actor.parent_session = "ses-parent";
  event.actor.session = "ses-" + std::to_string(n);
  event.run = "run-1";
  event.role = "deployer";
  event.policy_hash = "9f86d081";
  event.outcome = "Allowed";
  event.details_json = R"({"action":"s3:GetObject","n":)" + std::to_string(n) + "}";
  return event;
}

store::Mutation RunMutation(const std::string& id) {
  return store::Mutation{store::Table::kRuns, id,
                         R"({"workflow":"w","agent":"a","status":"active"})"};
}

// Builds a valid record the way AuditLog does, for forging rows in tamper tests.
store::AuditRow MakeRow(std::int64_t seq, std::int64_t time_ms, const std::string& body,
                        const std::string& prev_hash) {
  store::AuditRow row;
  row.seq = seq;
  row.time_ms = time_ms;
  row.type = "authorize";
  row.body = body;
  row.prev_hash = prev_hash;
  row.hash = ChainHash(prev_hash, CanonicalRecord(seq, time_ms, row.type, body));
  return row;
}

std::string SqlInsert(const store::AuditRow& row) {
  return "INSERT INTO audit_log (seq, time_ms, type, body, prev_hash, hash) VALUES (" +
         std::to_string(row.seq) + ", " + std::to_string(row.time_ms) + ", " + SqlQuote(row.type) +
         ", " + SqlQuote(row.body) + ", " + SqlQuote(row.prev_hash) + ", " + SqlQuote(row.hash) +
         ");";
}

struct KindAt {
  std::string kind;
  std::int64_t seq;
  bool operator==(const KindAt&) const = default;
};

std::ostream& operator<<(std::ostream& out, const KindAt& problem) {
  return out << problem.kind << "@" << problem.seq;
}

std::vector<KindAt> Problems(const VerifyReport& report) {
  std::vector<KindAt> problems;
  for (const Problem& problem : report.problems) problems.push_back({problem.kind, problem.seq});
  return problems;
}

std::string Describe(const VerifyReport& report) {
  std::string text;
  for (const Problem& problem : report.problems) {
    text += problem.kind + "@" + std::to_string(problem.seq) + ": " + problem.message + "\n";
  }
  return text;
}

AuditLogOptions EveryRecords(std::int64_t records) {
  AuditLogOptions options;
  options.checkpoint_every_records = records;
  options.checkpoint_every_ms = std::int64_t{1} << 40;  // never by time
  return options;
}

// Forwards everything to a real store; subclasses interfere with Commit.
class ForwardingStore : public store::Store {
 public:
  explicit ForwardingStore(store::Store& inner) : inner_(inner) {}
  Status Commit(const store::Batch& batch) override { return inner_.Commit(batch); }
  Result<std::vector<store::Entity>> LoadTable(store::Table table) override {
    return inner_.LoadTable(table);
  }
  Result<std::optional<std::string>> Get(store::Table table, std::string_view id) override {
    return inner_.Get(table, id);
  }
  Result<std::vector<store::AuditRow>> ReadAudit(std::int64_t after_seq,
                                                 std::size_t limit) override {
    return inner_.ReadAudit(after_seq, limit);
  }
  Result<std::optional<store::AuditRow>> LastAudit() override { return inner_.LastAudit(); }
  Result<std::vector<store::CheckpointRow>> ReadCheckpoints() override {
    return inner_.ReadCheckpoints();
  }
  Status PruneAudit(std::int64_t through_seq, const store::CheckpointRow& anchor) override {
    return inner_.PruneAudit(through_seq, anchor);
  }
  Result<std::int64_t> AuditPrunedThrough() override { return inner_.AuditPrunedThrough(); }
  std::string Describe() const override { return inner_.Describe(); }

 protected:
  store::Store& inner_;
};

// Fails every commit after the first `allowed`, as a full disk would.
class FailingStore : public ForwardingStore {
 public:
  FailingStore(store::Store& inner, int allowed) : ForwardingStore(inner), allowed_(allowed) {}
  Status Commit(const store::Batch& batch) override {
    if (commits_++ >= allowed_) return Error(ErrorCode::kUnavailable, "disk full");
    return inner_.Commit(batch);
  }

 private:
  int allowed_;
  int commits_ = 0;
};

// Holds the first commit until Release(), and records the size of every batch.
class GatedStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Status Commit(const store::Batch& batch) override {
    std::unique_lock<std::mutex> lock(mutex_);
    batch_sizes_.push_back(batch.audit.size());
    if (batch_sizes_.size() == 1) {
      held_ = true;
      changed_.notify_all();
      changed_.wait(lock, [&] { return released_; });
    }
    lock.unlock();
    return inner_.Commit(batch);
  }
  void WaitUntilHeld() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return held_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }
  std::vector<std::size_t> batch_sizes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return batch_sizes_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool held_ = false;
  bool released_ = false;
  std::vector<std::size_t> batch_sizes_;
};

// Waits for a number of asynchronous completions.
class Completions {
 public:
  AuditLog::Done Callback() {
    return [this](Result<std::int64_t> seq) {
      std::lock_guard<std::mutex> lock(mutex_);
      results_.push_back(std::move(seq));
      changed_.notify_all();
    };
  }
  std::vector<Result<std::int64_t>> WaitFor(std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return results_.size() >= count; });
    return results_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Result<std::int64_t>> results_;
};

// Every completion succeeded, and together they numbered the records 1..count without a gap.
void ExpectSeqsOneTo(const std::vector<Result<std::int64_t>>& results, std::int64_t count) {
  std::vector<std::int64_t> seqs;
  for (const Result<std::int64_t>& result : results) {
    ASSERT_TRUE(result.ok()) << result.error().ToString();
    seqs.push_back(*result);
  }
  std::sort(seqs.begin(), seqs.end());
  std::vector<std::int64_t> expected(static_cast<std::size_t>(count));
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(seqs, expected);
}

// ---------------------------------------------------------------------------------------------
// The canonical encoding

TEST(CanonicalBodyTest, SortsKeysOmitsEmptyFieldsAndNestsDetails) {
  Event event;
  event.type = "run.start";
  event.actor.principal = "agent:deployer";
  event.actor.agent = "deployer";
  event.actor.parent_session = "ses-1";
  event.run = "run-1";
  event.outcome = "ok";
  event.details_json = R"({ "workflow": "deploy", "tags": {"b": 2, "a": [true, null]} })";
  EXPECT_EQ(CanonicalBody(event),
            R"({"actor":{"agent":"deployer","parentSession":"ses-1","principal":"agent:deployer"},)"
            R"("details":{"tags":{"a":[true,null],"b":2},"workflow":"deploy"},)"
            R"("outcome":"ok","run":"run-1"})");
  EXPECT_EQ(CanonicalBody(Event{}), "{}");
}

TEST(CanonicalBodyTest, EmptyDetailsAreOmittedAndInvalidDetailsKeptAsText) {
  Event event;
  event.outcome = "ok";
  for (const char* empty : {"", "  ", "{}", " { } ", "null"}) {
    event.details_json = empty;
    EXPECT_EQ(CanonicalBody(event), R"({"outcome":"ok"})") << "details " << empty;
  }
  event.details_json = R"({"a": )";
  EXPECT_EQ(CanonicalBody(event), R"({"details":"{\"a\": ","outcome":"ok"})");
  event.details_json = "[1,2]";
  EXPECT_EQ(CanonicalBody(event), R"({"details":[1,2],"outcome":"ok"})");
  std::string deep(100, '[');
  deep += std::string(100, ']');
  event.details_json = deep;
  EXPECT_EQ(CanonicalBody(event), R"({"details":")" + deep + R"(","outcome":"ok"})");
}

TEST(CanonicalBodyTest, FloatsBecomeTextAndOutputIsAscii) {
  Event event;
  event.actor.human = "human:Zo\xc3\xab \xf0\x9f\x98\x80";  // Zoë and an emoji
  event.actor.agent =
      "bad\xff"
      "byte\x01";
  event.details_json = R"({"ratio":0.5,"big":1e15,"count":18446744073709551615,"neg":-3})";
  EXPECT_EQ(CanonicalBody(event),
            R"({"actor":{"agent":"bad\ufffdbyte\u0001","human":"human:Zo\u00eb \ud83d\ude00"},)"
            R"("details":{"big":"1e+15","count":18446744073709551615,"neg":-3,"ratio":"0.5"}})");
}

TEST(CanonicalBodyTest, DirectEncodingEqualsTheDomForm) {
  const std::vector<std::string> values = {"",
                                           "agent:deployer",
                                           "ses-1",
                                           "q\"uote\\back/slash",
                                           "ctl\x01\x1f\x7f\n\t",
                                           "Zo\xc3\xab \xf0\x9f\x98\x80 \xe2\x82\xac",
                                           "bad\xff",
                                           "trunc\xc3"};
  const std::vector<std::pair<std::string, bool>> details = {
      {"", false},
      {"{}", true},
      {R"({"action":"s3:GetObject","decision":"Allowed","n":-3})", true},
      {R"({"b": 1, "a": [2.5, "x"]})", false},
      {"{not json", false}};
  std::mt19937 random(7);
  const auto pick = [&] { return values[random() % values.size()]; };
  for (int i = 0; i < 3000; ++i) {
    Event event;
    event.type = pick();
    event.actor = {pick(), pick(), pick(), pick(), pick()};
    event.run = pick();
    event.role = pick();
    event.policy_hash = pick();
    event.outcome = pick();
    const auto& chosen = details[random() % details.size()];
    event.details_json = chosen.first;
    event.details_canonical = chosen.second;
    ASSERT_EQ(CanonicalBody(event), CanonicalBodyViaDom(event)) << "event " << i;
    ASSERT_TRUE(IsCanonicalBody(CanonicalBody(event))) << "event " << i;
  }
}

TEST(CanonicalBodyTest, IsCanonicalAcceptsOnlyTheExactEncoding) {
  std::string body = CanonicalBody(MakeEvent(7));
  EXPECT_TRUE(IsCanonicalBody(body));
  EXPECT_TRUE(IsCanonicalBody("{}"));
  EXPECT_FALSE(IsCanonicalBody(body + " "));
  EXPECT_FALSE(IsCanonicalBody(R"({"b":1,"a":2})"));
  EXPECT_FALSE(IsCanonicalBody(R"({"a":1.5})"));
  EXPECT_FALSE(IsCanonicalBody(R"({"a":"\u00E9"})"));
  EXPECT_FALSE(IsCanonicalBody("[]"));
  EXPECT_FALSE(IsCanonicalBody("not json"));
}

TEST(CanonicalRecordTest, ExactBytesAndHash) {
  Event event;
  event.actor.principal = "agent:deployer";
  event.actor.agent = "deployer";
  event.run = "run-1";
  event.outcome = "ok";
  std::string record = CanonicalRecord(1, 1700000000000, "run.start", CanonicalBody(event));
  EXPECT_EQ(record,
            R"({"event":{"actor":{"agent":"deployer","principal":"agent:deployer"},)"
            R"("outcome":"ok","run":"run-1"},"seq":1,"time":1700000000000,"type":"run.start"})");
  // Computed independently with Python's hashlib and json.dumps (see README.md).
  EXPECT_EQ(ChainHash(kGenesisHash, record),
            "e3f4f23c333c1e0d29ea94725677344c82909ca1900ba60c12bfc40cf1b9bcb0");
  EXPECT_EQ(ChainHash(kGenesisHash, record),
            crypto::Sha256Hex(std::string(kGenesisHash) + "\n" + record));
}

TEST(CanonicalRecordTest, CheckpointMessageAndExportLine) {
  EXPECT_EQ(CheckpointMessage(1000, "ab12", 1700000000123),
            "xrole-audit-checkpoint\n1000\nab12\n1700000000123");
  store::AuditRow row = MakeRow(3, 1700000000000, R"({"outcome":"ok"})", std::string(kGenesisHash));
  EXPECT_EQ(ExportLine(row), R"({"event":{"outcome":"ok"},"hash":")" + row.hash +
                                 R"(","prevHash":")" + std::string(kGenesisHash) +
                                 R"(","seq":3,"time":1700000000000,"type":"authorize"})");
}

// ---------------------------------------------------------------------------------------------
// Verify on records in memory

std::vector<store::AuditRow> MakeChain(int count) {
  std::vector<store::AuditRow> rows;
  std::string prev(kGenesisHash);
  for (int i = 1; i <= count; ++i) {
    rows.push_back(MakeRow(i, 1700000000000 + i, CanonicalBody(MakeEvent(i)), prev));
    prev = rows.back().hash;
  }
  return rows;
}

TEST(VerifyTest, EmptyAndIntactChainsAreOk) {
  VerifyReport empty = Verify({}, {}, {});
  EXPECT_TRUE(empty.ok);
  EXPECT_EQ(empty.records, 0);

  std::vector<store::AuditRow> rows = MakeChain(20);
  VerifyReport report = Verify(rows, {}, {});
  EXPECT_TRUE(report.ok) << Describe(report);
  EXPECT_EQ(report.records, 20);
  EXPECT_EQ(report.last_seq, 20);
  EXPECT_EQ(report.last_hash, rows.back().hash);
}

// A chain that continues a prune: rows 1..cut removed, a checkpoint at the cut, and an
// `audit.prune` record after it naming (cut, hash).
struct PrunedChain {
  std::vector<store::AuditRow> rows;
  std::vector<store::CheckpointRow> checkpoints;
  PublicKeys keys;
};

PrunedChain MakePrunedChain(std::int64_t cut, std::int64_t named_cut, bool named_hash_right) {
  static const crypto::Ed25519PrivateKey key = crypto::Ed25519PrivateKey::Generate();
  std::vector<store::AuditRow> all = MakeChain(static_cast<int>(cut) + 3);
  const std::string cut_hash = all[static_cast<std::size_t>(cut - 1)].hash;
  Event prune;
  prune.type = std::string(kPruneEventType);
  prune.outcome = "ok";
  prune.details_json = "{\"hash\":\"" + (named_hash_right ? cut_hash : std::string(64, 'f')) +
                       "\",\"throughSeq\":" + std::to_string(named_cut) + "}";
  store::AuditRow record =
      MakeRow(cut + 4, 1700000000000 + cut + 4, CanonicalBody(prune), all.back().hash);
  record.type = prune.type;
  record.hash = ChainHash(record.prev_hash,
                          CanonicalRecord(record.seq, record.time_ms, record.type, record.body));
  all.push_back(record);
  PrunedChain chain;
  chain.rows.assign(all.begin() + cut, all.end());
  const std::int64_t time_ms = 1800000000000;
  chain.checkpoints.push_back(store::CheckpointRow{
      cut, cut_hash, time_ms, "k1",
      crypto::Base64Encode(key.Sign(CheckpointMessage(cut, cut_hash, time_ms)))});
  chain.keys["k1"] = key.PublicKeyRaw();
  return chain;
}

TEST(VerifyTest, APrunedChainStartsAfterItsAnchorOnlyWhenTheChainRecordsThePrune) {
  PrunedChain chain = MakePrunedChain(5, 5, true);
  VerifyReport report = Verify(chain.rows, chain.checkpoints, chain.keys);
  EXPECT_TRUE(report.ok) << Describe(report);
  EXPECT_EQ(report.pruned_through, 5);
  EXPECT_EQ(report.records, 4);

  // No prune record (an attacker who removed records through a checkpointed one): a gap.
  chain.rows.pop_back();
  report = Verify(chain.rows, chain.checkpoints, chain.keys);
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"gap", 1}})) << Describe(report);
  EXPECT_EQ(report.pruned_through, 0);

  // A prune record naming another cut, or another hash, does not count either.
  for (auto [named_cut, right_hash] : {std::pair{4, true}, std::pair{5, false}}) {
    chain = MakePrunedChain(5, named_cut, right_hash);
    report = Verify(chain.rows, chain.checkpoints, chain.keys);
    EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"gap", 1}})) << Describe(report);
  }

  // Nor does an anchor whose signature is not the key's.
  chain = MakePrunedChain(5, 5, true);
  chain.keys["k1"] = crypto::Ed25519PrivateKey::Generate().PublicKeyRaw();
  report = Verify(chain.rows, chain.checkpoints, chain.keys);
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"bad-signature", 5}})) << Describe(report);

  // Records removed after the anchor are a gap after it.
  chain = MakePrunedChain(5, 5, true);
  chain.rows.erase(chain.rows.begin());
  report = Verify(chain.rows, chain.checkpoints, chain.keys);
  EXPECT_EQ(report.pruned_through, 0);  // the first record no longer follows the anchor...
  EXPECT_FALSE(report.ok);
  chain = MakePrunedChain(5, 5, true);
  chain.rows.erase(chain.rows.begin() + 2);
  report = Verify(chain.rows, chain.checkpoints, chain.keys);
  EXPECT_EQ(report.pruned_through, 5);  // ...but here it does, and record 8 is missing
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"gap", 8}})) << Describe(report);
}

TEST(VerifyTest, LinesOutOfOrderAreReordered) {
  std::vector<store::AuditRow> rows = MakeChain(6);
  std::swap(rows[2], rows[3]);  // 1 2 4 3 5 6
  VerifyReport report = Verify(rows, {}, {});
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"reordered", 4}, {"reordered", 3}}))
      << Describe(report);

  rows = MakeChain(6);
  rows.insert(rows.begin() + 3, rows[2]);  // 1 2 3 3 4 5 6
  report = Verify(rows, {}, {});
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"reordered", 3}})) << Describe(report);
}

TEST(VerifyTest, EditedLinksAndHashesAreReportedOnce) {
  std::vector<store::AuditRow> rows = MakeChain(6);
  rows[2].prev_hash = rows[0].hash;
  VerifyReport report = Verify(rows, {}, {});
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"edited", 3}})) << Describe(report);

  rows = MakeChain(6);
  rows[2].hash = rows[1].hash;
  report = Verify(rows, {}, {});
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"edited", 3}})) << Describe(report);

  rows = MakeChain(6);
  rows.erase(rows.begin(), rows.begin() + 2);
  report = Verify(rows, {}, {});
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"gap", 1}})) << Describe(report);
}

TEST(VerifyTest, OutOfRangeNumbersAreEdited) {
  std::vector<store::AuditRow> rows = MakeChain(5);
  rows[2].seq = std::numeric_limits<std::int64_t>::max();
  rows[4].seq = std::numeric_limits<std::int64_t>::min();
  VerifyReport report = Verify(rows, {}, {});
  EXPECT_EQ(Problems(report),
            (std::vector<KindAt>{{"edited", rows[2].seq}, {"gap", 3}, {"edited", rows[4].seq}}))
      << Describe(report);
}

// ---------------------------------------------------------------------------------------------
// ChainVerifier, the streaming verifier, against Verify, the reference

VerifyReport VerifyStreaming(const std::vector<store::AuditRow>& rows,
                             const std::vector<store::CheckpointRow>& checkpoints,
                             const PublicKeys& keys, ChainVerifierOptions options = {}) {
  ChainVerifier verifier(checkpoints, keys, options);
  for (const store::AuditRow& row : rows) verifier.Add(row);
  return verifier.Finish();
}

// Every field of a report, the problems in full: equal texts mean equal reports.
std::string FullText(const VerifyReport& report) {
  return "ok=" + std::to_string(report.ok) +
         " pruned_through=" + std::to_string(report.pruned_through) +
         " records=" + std::to_string(report.records) +
         " last_seq=" + std::to_string(report.last_seq) + " last_hash=" + report.last_hash +
         " checkpoints=" + std::to_string(report.checkpoints) +
         " last_checkpoint_seq=" + std::to_string(report.last_checkpoint_seq) + "\n" +
         Describe(report);
}

// Random damage to chains in memory, seeded: each case is an intact chain of up to `length`
// records (from the genesis, or continuing a prune with or without its `audit.prune` record)
// with up to three tamperings of the kinds Verify tells apart, and its checkpoints, possibly
// damaged too. With a `spread`, every tampering touches records within `spread` positions of
// one place in the chain, so that what Verify relates lies close together.
class TamperedChains {
 public:
  struct Case {
    std::string what;  // the tamperings, for failure messages
    std::vector<store::AuditRow> rows;
    std::vector<store::CheckpointRow> checkpoints;
  };

  TamperedChains(std::uint32_t seed, int length, int spread = 0)
      : random_(seed), length_(length), spread_(spread) {
    std::string prev(kGenesisHash);
    for (int seq = 1; seq <= length_; ++seq) {
      Event event = MakeEvent(seq);
      if (seq % 7 == 0) event.type = "session.assume";
      base_.push_back(MakeRow(seq, 1700000000000 + seq, CanonicalBody(event), prev));
      prev = base_.back().hash;
    }
  }

  const PublicKeys& keys() const { return keys_; }

  Case Next() {
    Case c;
    const auto length = static_cast<std::int64_t>(Uniform(1, length_));
    std::int64_t first = 1;  // the first record kept
    if (length >= 3 && Chance(35)) first = Uniform(2, length - 1);
    c.rows.assign(base_.begin() + (first - 1), base_.begin() + length);
    if (first > 1) AddPruneStart(c, first - 1);
    for (const store::AuditRow& row : c.rows) {
      if (row.seq % 10 == 0 && Chance(80)) c.checkpoints.push_back(Checkpoint(row.seq, row.hash));
    }
    std::sort(c.checkpoints.begin(), c.checkpoints.end(),
              [](const auto& a, const auto& b) { return a.seq < b.seq; });
    const int tamperings = static_cast<int>(Uniform(0, 3));
    center_ = Uniform(0, Size(c) - 1);
    for (int i = 0; i < tamperings; ++i) Tamper(c);
    if (Chance(40)) {  // the order a store reads them back in
      c.what += " sorted";
      std::stable_sort(c.rows.begin(), c.rows.end(),
                       [](const auto& a, const auto& b) { return a.seq < b.seq; });
    }
    return c;
  }

 private:
  std::int64_t Uniform(std::int64_t low, std::int64_t high) {
    return std::uniform_int_distribution<std::int64_t>(low, high)(random_);
  }
  bool Chance(int percent) { return Uniform(1, 100) <= percent; }
  // A position in the chain: anywhere, or within `spread_` of `center_`.
  std::size_t Index(const Case& c) {
    std::int64_t low = 0;
    std::int64_t high = Size(c) - 1;
    if (spread_ > 0) {
      low = std::clamp<std::int64_t>(center_ - spread_, 0, high);
      high = std::clamp<std::int64_t>(center_ + spread_, 0, high);
    }
    return static_cast<std::size_t>(Uniform(low, high));
  }
  static std::int64_t Size(const Case& c) { return static_cast<std::int64_t>(c.rows.size()); }

  store::CheckpointRow Checkpoint(std::int64_t seq, const std::string& hash) {
    const std::int64_t time_ms = 1800000000000 + seq;
    return store::CheckpointRow{
        seq, hash, time_ms, "k1",
        crypto::Base64Encode(key_.Sign(CheckpointMessage(seq, hash, time_ms)))};
  }

  // The records through `cut` were pruned: usually with the anchor checkpoint and the
  // `audit.prune` record naming the cut, sometimes without either or naming another cut.
  void AddPruneStart(Case& c, std::int64_t cut) {
    const std::string& cut_hash = base_[static_cast<std::size_t>(cut - 1)].hash;
    c.what = "pruned through " + std::to_string(cut);
    if (Chance(85)) c.checkpoints.push_back(Checkpoint(cut, cut_hash));
    if (Chance(85)) {
      std::int64_t named_cut = Chance(90) ? cut : cut - 1;
      std::string named_hash = Chance(90) ? cut_hash : base_[0].hash;
      Event prune;
      prune.type = std::string(kPruneEventType);
      prune.outcome = "ok";
      prune.details_json =
          "{\"hash\":\"" + named_hash + "\",\"throughSeq\":" + std::to_string(named_cut) + "}";
      const store::AuditRow& last = c.rows.back();
      store::AuditRow record = MakeRow(last.seq + 1, last.time_ms, CanonicalBody(prune), last.hash);
      record.type = prune.type;
      record.hash = ChainHash(
          record.prev_hash, CanonicalRecord(record.seq, record.time_ms, record.type, record.body));
      c.rows.push_back(record);
      c.what += named_cut == cut && named_hash == cut_hash ? " (recorded)" : " (misrecorded)";
    }
  }

  // A well-formed record at `seq` linking to `prev_hash`, as someone with the writer's
  // algorithm but not its history would forge it.
  store::AuditRow Forged(std::int64_t seq, const std::string& prev_hash) {
    return MakeRow(seq, 1700000000000 + seq, CanonicalBody(MakeEvent(1000 + seq)), prev_hash);
  }

  static void Rehash(store::AuditRow& row) {
    row.hash = ChainHash(row.prev_hash, CanonicalRecord(row.seq, row.time_ms, row.type, row.body));
  }

  void Tamper(Case& c) {
    if (c.rows.empty()) return;
    const std::size_t i = Index(c);
    const std::size_t j = Index(c);
    store::AuditRow& row = c.rows[i];
    const std::string at = " " + std::to_string(i);
    switch (Uniform(0, 15)) {
      case 0:
        c.what += " edit-body" + at;
        row.body = row.body.substr(0, row.body.size() - 2) + "7}";
        if (Chance(50)) Rehash(row), c.what += "+rehash";
        break;
      case 1:
        c.what += " edit-time-or-type" + at;
        if (Chance(50)) {
          row.time_ms += 1;
        } else {
          row.type = "token.rejected";
        }
        if (Chance(30)) Rehash(row), c.what += "+rehash";
        break;
      case 2:
        c.what += " edit-link" + at + "->" + std::to_string(j);
        row.prev_hash = Chance(20) ? std::string(kGenesisHash) : c.rows[j].hash;
        if (Chance(50)) Rehash(row), c.what += "+rehash";
        break;
      case 3:
        c.what += " edit-hash" + at;
        row.hash = Chance(50) ? c.rows[j].hash : std::string(64, 'e');
        break;
      case 4: {
        const std::size_t count = std::min<std::size_t>(Uniform(1, 3), c.rows.size() - i);
        c.what += " delete" + at + "x" + std::to_string(count);
        c.rows.erase(c.rows.begin() + i, c.rows.begin() + i + count);
        break;
      }
      case 5: {  // deleted, and the later records renumbered to close the gap
        const std::size_t count = std::min<std::size_t>(Uniform(1, 3), c.rows.size() - i);
        c.what += " delete-renumber" + at + "x" + std::to_string(count);
        c.rows.erase(c.rows.begin() + i, c.rows.begin() + i + count);
        for (std::size_t k = i; k < c.rows.size(); ++k) {
          c.rows[k].seq -= static_cast<std::int64_t>(count);
        }
        if (Chance(30) && !c.rows.empty()) Rehash(c.rows.back()), c.what += "+rehash-head";
        break;
      }
      case 6: {  // a forged record, linking to the one before it; the rest renumbered or not
        const std::int64_t seq = i == 0 ? c.rows[0].seq : c.rows[i - 1].seq + 1;
        const std::string prev = i == 0 ? c.rows[0].prev_hash : c.rows[i - 1].hash;
        const bool renumber = Chance(60);
        c.what += std::string(" insert") + (renumber ? "-renumber" : "") + at;
        if (renumber) {
          for (std::size_t k = i; k < c.rows.size(); ++k) ++c.rows[k].seq;
        }
        c.rows.insert(c.rows.begin() + i, Forged(seq, prev));
        break;
      }
      case 7:
        c.what += " swap-positions" + at + "," + std::to_string(j);
        std::swap(c.rows[i], c.rows[j]);
        break;
      case 8:  // renumbered in place, as swapping their seqs in SQL does
        c.what += " swap-contents" + at + "," + std::to_string(j);
        std::swap(c.rows[i].seq, c.rows[j].seq);
        std::swap(c.rows[i], c.rows[j]);
        break;
      case 9: {
        c.what += " move" + at + "->" + std::to_string(j);
        store::AuditRow moved = c.rows[i];
        c.rows.erase(c.rows.begin() + i);
        c.rows.insert(c.rows.begin() + std::min(j, c.rows.size()), moved);
        break;
      }
      case 10:
        c.what += " duplicate" + at + "->" + std::to_string(j);
        c.rows.insert(c.rows.begin() + j, c.rows[i]);
        break;
      case 11: {
        const std::size_t count = std::min<std::size_t>(Uniform(1, 5), c.rows.size());
        c.what += " truncate x" + std::to_string(count);
        c.rows.resize(c.rows.size() - count);
        break;
      }
      case 12:
        if (spread_ == 0) {
          const std::int64_t odd[] = {0,
                                      -3,
                                      std::numeric_limits<std::int64_t>::max(),
                                      std::numeric_limits<std::int64_t>::min(),
                                      (std::int64_t{1} << 62) + 1,
                                      std::int64_t{1} << 62};
          row.seq = odd[Uniform(0, 5)];
          c.what += " seq" + at + "=" + std::to_string(row.seq);
          break;
        }
        // A far-off number would take the record far away when the rows are sorted.
        [[fallthrough]];
      case 13:
        row.seq += spread_ > 0 ? Uniform(-spread_, spread_) : Uniform(-4, 12);
        c.what += " renumber" + at + "=" + std::to_string(row.seq);
        if (Chance(50)) Rehash(row), c.what += "+rehash";
        break;
      case 14:
        c.what += " link-to-genesis" + at;
        row.prev_hash = std::string(kGenesisHash);
        if (Chance(70)) Rehash(row), c.what += "+rehash";
        break;
      case 15:
        TamperCheckpoint(c, j);
        break;
    }
  }

  void TamperCheckpoint(Case& c, std::size_t j) {
    const store::AuditRow& row = c.rows[j];
    if (c.checkpoints.empty() || Chance(30)) {
      // A checkpoint pinning a record that is not (or no longer) in the chain, or some record.
      const std::int64_t seq = Chance(50) ? row.seq : c.rows.back().seq + Uniform(1, 5);
      c.what += " add-checkpoint@" + std::to_string(seq);
      c.checkpoints.push_back(Checkpoint(seq, Chance(70) ? row.hash : std::string(64, 'c')));
      return;
    }
    store::CheckpointRow& checkpoint =
        c.checkpoints[static_cast<std::size_t>(Uniform(0, c.checkpoints.size() - 1))];
    c.what += " checkpoint@" + std::to_string(checkpoint.seq);
    switch (Uniform(0, 3)) {
      case 0:
        c.what += "-hash";
        checkpoint.hash = row.hash;
        if (Chance(50)) checkpoint = Checkpoint(checkpoint.seq, row.hash), c.what += "+signed";
        break;
      case 1:
        c.what += "-signature";
        checkpoint.signature = c.checkpoints.front().signature;
        checkpoint.time_ms += 1;
        break;
      case 2:
        c.what += "-key";
        checkpoint.key_id = "k2";
        break;
      case 3:
        c.what += "-duplicated";
        c.checkpoints.push_back(checkpoint);
        break;
    }
  }

  std::mt19937 random_;
  const int length_;
  const int spread_;
  std::int64_t center_ = 0;  // of the case being made
  crypto::Ed25519PrivateKey key_ = crypto::Ed25519PrivateKey::Generate();
  PublicKeys keys_{{"k1", key_.PublicKeyRaw()}};
  std::vector<store::AuditRow> base_;
};

TEST(ChainVerifierTest, EqualsTheReferenceOnRandomTamperings) {
  TamperedChains chains(20240611, 40);
  int damaged = 0;
  int pruned = 0;
  std::set<std::string> kinds;
  for (int n = 0; n < 2500; ++n) {
    TamperedChains::Case c = chains.Next();
    const VerifyReport reference = Verify(c.rows, c.checkpoints, chains.keys());
    damaged += reference.ok ? 0 : 1;
    pruned += reference.pruned_through > 0 ? 1 : 0;
    for (const Problem& problem : reference.problems) kinds.insert(problem.kind);
    const std::string expected = FullText(reference);
    // The default window, and the smallest one that holds the whole chain on either side.
    ASSERT_EQ(FullText(VerifyStreaming(c.rows, c.checkpoints, chains.keys())), expected)
        << "case " << n << ":" << c.what;
    ChainVerifierOptions tight;
    tight.window = std::max<std::size_t>(c.rows.size(), 1);
    ASSERT_EQ(FullText(VerifyStreaming(c.rows, c.checkpoints, chains.keys(), tight)), expected)
        << "case " << n << ":" << c.what;
    // Smaller windows may word the damage differently, but find it exactly when Verify does.
    for (std::size_t window : {std::size_t{1}, std::size_t{3}}) {
      ChainVerifierOptions small;
      small.window = window;
      VerifyReport report = VerifyStreaming(c.rows, c.checkpoints, chains.keys(), small);
      ASSERT_EQ(report.ok, reference.ok)
          << "case " << n << ", window " << window << ":" << c.what << "\n"
          << expected << "streaming:\n"
          << FullText(report);
      EXPECT_EQ(report.pruned_through, reference.pruned_through) << "case " << n;
      EXPECT_EQ(report.last_seq, reference.last_seq) << "case " << n;
    }
  }
  // The generator exercises what it should: mostly damaged chains, a fair share pruned, and
  // every kind of problem.
  EXPECT_GT(damaged, 1500);
  EXPECT_GT(pruned, 300);
  EXPECT_EQ(kinds,
            (std::set<std::string>{"bad-link", "bad-signature", "checkpoint-mismatch", "edited",
                                   "gap", "inserted", "reordered", "truncated", "unknown-key"}));
}

// Long chains damaged in one place, verified with a window far shorter than the chain (so the
// windows wrap around many times) but wider than the damage: the reports are equal.
TEST(ChainVerifierTest, EqualsTheReferenceOnLocalDamageWithASmallWindow) {
  TamperedChains chains(777, 150, /*spread=*/3);
  ChainVerifierOptions small;
  small.window = 8;
  int damaged = 0;
  for (int n = 0; n < 800; ++n) {
    TamperedChains::Case c = chains.Next();
    const VerifyReport reference = Verify(c.rows, c.checkpoints, chains.keys());
    damaged += reference.ok ? 0 : 1;
    ASSERT_EQ(FullText(VerifyStreaming(c.rows, c.checkpoints, chains.keys(), small)),
              FullText(reference))
        << "case " << n << ":" << c.what;
  }
  EXPECT_GT(damaged, 400);
}

TEST(ChainVerifierTest, ALinkToTheGenesisNamesTheFirstRecordWhateverTheWindow) {
  std::vector<store::AuditRow> rows = MakeChain(30);
  store::AuditRow& row = rows[19];
  row.prev_hash = std::string(kGenesisHash);
  row.hash = ChainHash(row.prev_hash, CanonicalRecord(row.seq, row.time_ms, row.type, row.body));
  const VerifyReport reference = Verify(rows, {}, {});
  ASSERT_EQ(Problems(reference), (std::vector<KindAt>{{"inserted", 1}})) << Describe(reference);
  ChainVerifierOptions small;
  small.window = 3;
  EXPECT_EQ(FullText(VerifyStreaming(rows, {}, {}, small)), FullText(reference));
}

TEST(ChainVerifierTest, AHashStoredTwiceIsLookedUpWhereItFirstOccurs) {
  // Records 4 and 6 trade places (renumbered in place), and a copy of record 3 follows them:
  // the record at 6 links to record 3's hash, found both before and after it.
  std::vector<store::AuditRow> rows = MakeChain(10);
  std::swap(rows[3], rows[5]);
  std::swap(rows[3].seq, rows[5].seq);
  rows.insert(rows.begin() + 6, rows[2]);
  const VerifyReport reference = Verify(rows, {}, {});
  ASSERT_FALSE(reference.ok);
  ChainVerifierOptions small;
  small.window = 4;
  EXPECT_EQ(FullText(VerifyStreaming(rows, {}, {}, small)), FullText(reference));
}

TEST(ChainVerifierTest, APruneRecordFarBehindTheFirstRecordStillSettlesTheStart) {
  // 60 records after the cut, then the prune record: far outside a window of 2.
  PrunedChain chain = MakePrunedChain(5, 5, true);
  std::vector<store::AuditRow> rows = MakeChain(68);
  store::AuditRow prune = chain.rows.back();
  prune.seq = 69;
  prune.prev_hash = rows.back().hash;
  prune.hash =
      ChainHash(prune.prev_hash, CanonicalRecord(prune.seq, prune.time_ms, prune.type, prune.body));
  rows.push_back(prune);
  rows.erase(rows.begin(), rows.begin() + 5);
  ASSERT_EQ(rows.front().prev_hash, chain.checkpoints.front().hash);
  ChainVerifierOptions small;
  small.window = 2;

  VerifyReport report = VerifyStreaming(rows, chain.checkpoints, chain.keys, small);
  EXPECT_TRUE(report.ok) << Describe(report);
  EXPECT_EQ(report.pruned_through, 5);
  EXPECT_EQ(FullText(report), FullText(Verify(rows, chain.checkpoints, chain.keys)));

  // Without the prune record, the same records are a gap at 1.
  rows.pop_back();
  report = VerifyStreaming(rows, chain.checkpoints, chain.keys, small);
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"gap", 1}})) << Describe(report);
  EXPECT_EQ(report.pruned_through, 0);

  // The first record after the cut edited: each start words it its own way.
  rows.push_back(prune);
  rows.front().time_ms += 1;
  report = VerifyStreaming(rows, chain.checkpoints, chain.keys, small);
  EXPECT_EQ(FullText(report), FullText(Verify(rows, chain.checkpoints, chain.keys)));
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"edited", 6}})) << Describe(report);
}

TEST(ChainVerifierTest, DamageWiderThanTheWindowIsFoundButMayBeWordedDifferently) {
  // Records 5 and 25 swap places, as swapping their seqs in SQL does: 20 records apart.
  std::vector<store::AuditRow> rows = MakeChain(30);
  std::swap(rows[4], rows[24]);
  std::swap(rows[4].seq, rows[24].seq);
  const VerifyReport reference = Verify(rows, {}, {});
  EXPECT_EQ(Problems(reference), (std::vector<KindAt>{{"reordered", 5}, {"reordered", 25}}))
      << Describe(reference);

  // The farthest relation: the record at 25 (written as 5) links to record 4, 21 back.
  ChainVerifierOptions wide;
  wide.window = 21;
  EXPECT_EQ(FullText(VerifyStreaming(rows, {}, {}, wide)), FullText(reference));

  // One less, and record 4 is out of reach: the record at 25 matches no seq it can find.
  ChainVerifierOptions short_of_it;
  short_of_it.window = 20;
  VerifyReport report = VerifyStreaming(rows, {}, {}, short_of_it);
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"reordered", 5}, {"edited", 25}}))
      << Describe(report);

  // Neither end within reach: still found, at the first record moved.
  ChainVerifierOptions narrow;
  narrow.window = 4;
  report = VerifyStreaming(rows, {}, {}, narrow);
  EXPECT_FALSE(report.ok);
  ASSERT_FALSE(report.problems.empty());
  EXPECT_EQ(report.problems.front().seq, 5) << Describe(report);
}

TEST(ChainVerifierTest, EmptyChainAndFinishLeavesNothingBehind) {
  ChainVerifier verifier({}, {});
  VerifyReport report = verifier.Finish();
  EXPECT_EQ(FullText(report), FullText(Verify({}, {}, {})));

  // A checkpoint but no records: truncated, as Verify says.
  static const crypto::Ed25519PrivateKey key = crypto::Ed25519PrivateKey::Generate();
  std::vector<store::AuditRow> rows = MakeChain(3);
  std::vector<store::CheckpointRow> checkpoints = {
      store::CheckpointRow{3, rows[2].hash, 1, "k1",
                           crypto::Base64Encode(key.Sign(CheckpointMessage(3, rows[2].hash, 1)))}};
  PublicKeys keys{{"k1", key.PublicKeyRaw()}};
  EXPECT_EQ(FullText(VerifyStreaming({}, checkpoints, keys)),
            FullText(Verify({}, checkpoints, keys)));
  EXPECT_EQ(FullText(VerifyStreaming(rows, checkpoints, keys)),
            FullText(Verify(rows, checkpoints, keys)));
}

// ---------------------------------------------------------------------------------------------
// AuditLog on a real SQLite store

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenStore(); }

  // Every record in the audit_log table, where these tests edit them with SQL: where a store
  // keeps records is its own concern (the segment files are tampered with in store_test and in
  // the end-to-end tamper test).
  void OpenStore() {
    store::SqliteOptions options;
    options.audit_segments = false;
    Result<std::unique_ptr<store::Store>> opened = store::OpenSqlite(db_path_, options);
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
    store_ = std::move(*opened);
  }

  std::vector<store::AuditRow> Rows() {
    Result<std::vector<store::AuditRow>> rows = store_->ReadAudit(0, 0);
    EXPECT_TRUE(rows.ok()) << rows.error().ToString();
    return rows.ok() ? *rows : std::vector<store::AuditRow>{};
  }

  std::vector<store::CheckpointRow> Checkpoints() {
    Result<std::vector<store::CheckpointRow>> checkpoints = store_->ReadCheckpoints();
    EXPECT_TRUE(checkpoints.ok()) << checkpoints.error().ToString();
    return checkpoints.ok() ? *checkpoints : std::vector<store::CheckpointRow>{};
  }

  std::vector<std::int64_t> CheckpointSeqs() {
    std::vector<std::int64_t> seqs;
    for (const store::CheckpointRow& checkpoint : Checkpoints()) seqs.push_back(checkpoint.seq);
    return seqs;
  }

  // Verify on every record, checked against the streaming verifier fed from the store a few
  // records at a time (store::ForEachAuditRow), as the broker and the CLI feed it.
  VerifyReport VerifyStore() {
    VerifyReport report = Verify(Rows(), Checkpoints(), keys_);
    ChainVerifier streaming(Checkpoints(), keys_);
    Status read = store::ForEachAuditRow(
        *store_, 0, 7, [&streaming](store::AuditRow row) { streaming.Add(std::move(row)); });
    EXPECT_TRUE(read.ok()) << read.error().ToString();
    EXPECT_EQ(FullText(streaming.Finish()), FullText(report));
    return report;
  }

  // The chain in the store verifies and holds `records` records.
  void ExpectIntactChainOf(std::int64_t records) {
    VerifyReport report = VerifyStore();
    EXPECT_TRUE(report.ok) << Describe(report);
    EXPECT_EQ(report.records, records);
  }

  void AppendMany(AuditLog& log, int first, int count) {
    for (int i = first; i < first + count; ++i) {
      Result<std::int64_t> seq = log.AppendAndWait({}, MakeEvent(i));
      ASSERT_TRUE(seq.ok()) << seq.error().ToString();
    }
  }

  TempDir dir_;
  std::string db_path_ = dir_.File("xrole.db");
  crypto::Ed25519PrivateKey key_ = crypto::Ed25519PrivateKey::Generate();
  PublicKeys keys_{{"k1", key_.PublicKeyRaw()}};
  std::unique_ptr<store::Store> store_;
};

TEST_F(AuditLogTest, ConcurrentAppendsGetContiguousSeqsAndVerify) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  AuditLog log(*store_, &key_, "k1", EveryRecords(500));
  ASSERT_TRUE(log.Open().ok());
  Completions completions;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int n = t * kPerThread + i;
        std::vector<store::Mutation> mutations;
        mutations.push_back(RunMutation("run-" + std::to_string(n)));
        log.Append(std::move(mutations), MakeEvent(n), completions.Callback());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<Result<std::int64_t>> results = completions.WaitFor(kThreads * kPerThread);
  log.Stop();

  ExpectSeqsOneTo(results, kThreads * kPerThread);
  EXPECT_EQ(log.last_seq(), kThreads * kPerThread);

  VerifyReport report = VerifyStore();
  EXPECT_TRUE(report.ok) << Describe(report);
  EXPECT_EQ(report.records, kThreads * kPerThread);
  EXPECT_GE(report.checkpoints, 1);
  EXPECT_EQ(report.last_checkpoint_seq, kThreads * kPerThread);  // the final one, from Stop

  std::vector<store::AuditRow> rows = Rows();
  for (std::size_t i = 1; i < rows.size(); ++i) {
    EXPECT_LE(rows[i - 1].time_ms, rows[i].time_ms) << "record " << rows[i].seq;
  }
  Result<std::vector<store::Entity>> runs = store_->LoadTable(store::Table::kRuns);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST_F(AuditLogTest, EntriesQueuedDuringACommitGoIntoOneTransaction) {
  GatedStore gated(*store_);
  AuditLogOptions options = EveryRecords(1000);
  options.max_batch = 30;
  AuditLog log(gated, &key_, "k1", options);
  ASSERT_TRUE(log.Open().ok());
  Completions completions;
  log.Append({}, MakeEvent(0), completions.Callback());
  gated.WaitUntilHeld();  // the writer is inside the first commit
  for (int i = 1; i <= 100; ++i) log.Append({}, MakeEvent(i), completions.Callback());
  gated.Release();
  completions.WaitFor(101);
  log.Stop();
  EXPECT_EQ(gated.batch_sizes(), (std::vector<std::size_t>{1, 30, 30, 30, 10, 0}));
  // Six transactions (the last pins the tail with a checkpoint only), each timed once.
  const AuditLogStats stats = log.stats();
  EXPECT_EQ(stats.commits, 6u);
  EXPECT_EQ(stats.records, 101u);
  EXPECT_EQ(stats.failed_commits, 0u);
  std::uint64_t timed = 0;
  for (std::uint64_t count : stats.commit_buckets) timed += count;
  EXPECT_EQ(timed, 6u);
  EXPECT_GT(stats.commit_seconds_sum, 0.0);
  VerifyReport report = VerifyStore();
  EXPECT_TRUE(report.ok) << Describe(report);
  EXPECT_EQ(report.records, 101);
}

TEST_F(AuditLogTest, CommitDelayFillsTransactionsOnlyWhileTheLogIsBusy) {
  GatedStore gated(*store_);
  AuditLogOptions options = EveryRecords(1000);
  options.max_batch = 5;
  options.commit_delay = std::chrono::hours(1);
  options.commit_delay_min_batch = 2;
  AuditLog log(gated, &key_, "k1", options);
  ASSERT_TRUE(log.Open().ok());
  Completions completions;
  // Idle: the first record, and the two queued behind its commit, commit without the delay.
  log.Append({}, MakeEvent(0), completions.Callback());
  gated.WaitUntilHeld();
  log.Append({}, MakeEvent(1), completions.Callback());
  log.Append({}, MakeEvent(2), completions.Callback());
  gated.Release();
  completions.WaitFor(3);
  // Busy (the last transaction carried two): records wait until the transaction is full.
  for (int i = 3; i < 8; ++i) log.Append({}, MakeEvent(i), completions.Callback());
  completions.WaitFor(8);
  // Stopping ends the wait: what is queued is committed, not dropped.
  log.Append({}, MakeEvent(8), completions.Callback());
  log.Append({}, MakeEvent(9), completions.Callback());
  log.Stop();
  std::vector<Result<std::int64_t>> results = completions.WaitFor(10);
  for (const Result<std::int64_t>& result : results) {
    EXPECT_TRUE(result.ok()) << result.error().ToString();
  }
  EXPECT_EQ(gated.batch_sizes(), (std::vector<std::size_t>{1, 2, 5, 2, 0}));
  VerifyReport report = VerifyStore();
  EXPECT_TRUE(report.ok) << Describe(report);
  EXPECT_EQ(report.records, 10);
}

// Threads that queue decisions with AppendDeferred and then Flush, beside threads appending
// state changes: every record committed once, numbered without gaps, and the chain verifies.
// (Who commits which record depends on timing: a Flush leaves its records to a commit already in
// progress, and an awake writer takes every queued entry.)
TEST_F(AuditLogTest, DeferredRecordsAndStateChangesFromManyThreadsFormOneChain) {
  constexpr int kFlushers = 4;
  constexpr int kStateWriters = 2;
  constexpr int kPerThread = 400;
  constexpr int kTotal = (kFlushers + kStateWriters) * kPerThread;
  AuditLog log(*store_, &key_, "k1", EveryRecords(100));
  ASSERT_TRUE(log.Open().ok());
  Completions completions;
  std::vector<std::thread> threads;
  for (int t = 0; t < kFlushers + kStateWriters; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * kPerThread + i;
        if (t < kFlushers) {
          log.AppendDeferred(MakeEvent(n), completions.Callback());
          if (i % 3 == 2) log.Flush();  // a round of three requests
        } else {
          std::vector<store::Mutation> mutations;
          mutations.push_back(RunMutation("run-" + std::to_string(n)));
          log.Append(std::move(mutations), MakeEvent(n), completions.Callback());
        }
      }
      log.Flush();
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<Result<std::int64_t>> results = completions.WaitFor(kTotal);
  // Flushes write no checkpoint; the writer writes them as the records pass the cadence.
  EXPECT_TRUE(xrole::testing::Eventually([&] { return !Checkpoints().empty(); }));
  log.Stop();

  ExpectSeqsOneTo(results, kTotal);
  VerifyReport report = VerifyStore();
  EXPECT_TRUE(report.ok) << Describe(report);
  EXPECT_EQ(report.records, kTotal);
  EXPECT_EQ(report.last_checkpoint_seq, kTotal);
  Result<std::vector<store::Entity>> runs = store_->LoadTable(store::Table::kRuns);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), static_cast<std::size_t>(kStateWriters * kPerThread));
}

// With nobody else committing, Flush commits on the calling thread and answers there, before
// it returns. (The writer may take the first records while it is still awake after Open or
// after a commit of its own, so each record is awaited before the next is queued; once the
// writer sleeps, nothing here wakes it.)
TEST_F(AuditLogTest, AFlushCommitsAndAnswersOnTheCallingThread) {
  AuditLog log(*store_, &key_, "k1", EveryRecords(1 << 20));
  ASSERT_TRUE(log.Open().ok());
  const std::thread::id caller = std::this_thread::get_id();
  Completions completions;
  std::atomic<int> answered_here{0};
  int appended = 0;
  while (answered_here.load() == 0 && appended < 100) {
    AuditLog::Done done = completions.Callback();
    log.AppendDeferred(MakeEvent(appended++), [&, done](Result<std::int64_t> seq) {
      if (std::this_thread::get_id() == caller) ++answered_here;
      done(std::move(seq));
    });
    log.Flush();
    completions.WaitFor(static_cast<std::size_t>(appended));
  }
  log.Stop();
  EXPECT_EQ(answered_here.load(), 1) << appended << " appended";
  ExpectSeqsOneTo(completions.WaitFor(static_cast<std::size_t>(appended)), appended);
  ExpectIntactChainOf(appended);
}

// A Flush that finds another commit in progress returns at once; that committer (here the
// writer) then commits the deferred records too, in one transaction.
TEST_F(AuditLogTest, AFlushDuringAnotherCommitLeavesTheRecordsToThatCommitter) {
  GatedStore gated(*store_);
  AuditLog log(gated, &key_, "k1", EveryRecords(1000));
  ASSERT_TRUE(log.Open().ok());
  Completions completions;
  log.Append({}, MakeEvent(0), completions.Callback());
  gated.WaitUntilHeld();  // the writer is inside the first commit
  std::atomic<int> done{0};
  for (int i = 1; i <= 3; ++i) {
    AuditLog::Done callback = completions.Callback();
    log.AppendDeferred(MakeEvent(i), [&done, callback](Result<std::int64_t> seq) {
      ++done;
      callback(std::move(seq));
    });
  }
  log.Flush();
  EXPECT_EQ(done.load(), 0);  // nothing was committed by the Flush
  gated.Release();
  for (const Result<std::int64_t>& result : completions.WaitFor(4)) {
    EXPECT_TRUE(result.ok()) << result.error().ToString();
  }
  log.Stop();
  EXPECT_EQ(gated.batch_sizes(), (std::vector<std::size_t>{1, 3, 0}));
  ExpectIntactChainOf(4);
}

TEST_F(AuditLogTest, ACallbackThatThrowsLeavesTheOthersAnsweredAndTheLogCommitting) {
  AuditLog log(*store_, &key_, "k1", EveryRecords(1000));
  ASSERT_TRUE(log.Open().ok());
  Completions completions;
  log.AppendDeferred(MakeEvent(0), [](Result<std::int64_t>) { throw std::bad_alloc(); });
  log.AppendDeferred(MakeEvent(1), completions.Callback());
  log.Flush();
  ASSERT_TRUE(completions.WaitFor(1)[0].ok());
  log.AppendDeferred(MakeEvent(2), completions.Callback());
  log.Flush();
  ASSERT_TRUE(completions.WaitFor(2)[1].ok());
  ASSERT_TRUE(log.AppendAndWait({}, MakeEvent(3)).ok());
  log.Stop();
  ExpectIntactChainOf(4);
}

TEST_F(AuditLogTest, StopCommitsDeferredRecordsThatNobodyFlushed) {
  AuditLog log(*store_, &key_, "k1", EveryRecords(1000));
  ASSERT_TRUE(log.Open().ok());
  Completions completions;
  for (int i = 0; i < 3; ++i) log.AppendDeferred(MakeEvent(i), completions.Callback());
  log.Stop();
  for (const Result<std::int64_t>& result : completions.WaitFor(3)) {
    EXPECT_TRUE(result.ok()) << result.error().ToString();
  }
  log.AppendDeferred(MakeEvent(3), completions.Callback());  // stopped: refused at once
  std::vector<Result<std::int64_t>> results = completions.WaitFor(4);
  ASSERT_FALSE(results[3].ok());
  EXPECT_EQ(results[3].error().code(), ErrorCode::kUnavailable);
  log.Flush();  // nothing to do, and no harm
  ExpectIntactChainOf(3);
  EXPECT_EQ(CheckpointSeqs().back(), 3);
}

TEST_F(AuditLogTest, CheckpointsFollowTheRecordCadenceAndStopPinsTheTail) {
  AuditLog log(*store_, &key_, "k1", EveryRecords(10));
  ASSERT_TRUE(log.Open().ok());
  AppendMany(log, 1, 35);
  EXPECT_EQ(CheckpointSeqs(), (std::vector<std::int64_t>{10, 20, 30}));
  log.Stop();
  EXPECT_EQ(CheckpointSeqs(), (std::vector<std::int64_t>{10, 20, 30, 35}));
  VerifyReport report = VerifyStore();
  EXPECT_TRUE(report.ok) << Describe(report);
  EXPECT_EQ(report.checkpoints, 4);
  EXPECT_EQ(report.last_checkpoint_seq, 35);
}

TEST_F(AuditLogTest, IdleLogCheckpointsAfterTheInterval) {
  AuditLogOptions options;
  options.checkpoint_every_records = 1000;
  options.checkpoint_every_ms = 20;
  AuditLog log(*store_, &key_, "k1", options);
  ASSERT_TRUE(log.Open().ok());
  AppendMany(log, 1, 3);
  // Wait (bounded) for the writer to pin the tail on its own.
  for (int i = 0; i < 1000 && (CheckpointSeqs().empty() || CheckpointSeqs().back() != 3); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(CheckpointSeqs().empty());
  EXPECT_EQ(CheckpointSeqs().back(), 3);
  VerifyReport report = VerifyStore();
  EXPECT_TRUE(report.ok) << Describe(report);
}

TEST_F(AuditLogTest, ReopenContinuesTheChain) {
  {
    AuditLog log(*store_, &key_, "k1", EveryRecords(4));
    ASSERT_TRUE(log.Open().ok());
    AppendMany(log, 1, 10);
  }  // destructor stops: final checkpoint at 10
  store_.reset();
  OpenStore();
  AuditLog log(*store_, &key_, "k1", EveryRecords(4));
  ASSERT_TRUE(log.Open().ok());
  EXPECT_EQ(log.last_seq(), 10);
  Result<std::int64_t> seq = log.AppendAndWait({}, MakeEvent(11));
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 11);
  AppendMany(log, 12, 5);
  log.Stop();
  EXPECT_EQ(CheckpointSeqs(), (std::vector<std::int64_t>{4, 8, 10, 14, 16}));
  VerifyReport report = VerifyStore();
  EXPECT_TRUE(report.ok) << Describe(report);
  EXPECT_EQ(report.records, 16);
}

TEST_F(AuditLogTest, KeyRotationAndMissingKeys) {
  crypto::Ed25519PrivateKey second = crypto::Ed25519PrivateKey::Generate();
  AuditLog log(*store_, &key_, "k1", EveryRecords(5));
  ASSERT_TRUE(log.Open().ok());
  AppendMany(log, 1, 10);
  log.SetSigner(&second, "k2");
  AppendMany(log, 11, 10);
  log.Stop();

  keys_["k2"] = second.PublicKeyRaw();
  VerifyReport report = VerifyStore();
  EXPECT_TRUE(report.ok) << Describe(report);
  EXPECT_EQ(report.checkpoints, 4);

  keys_.erase("k2");
  report = VerifyStore();
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"unknown-key", 15}, {"unknown-key", 20}}))
      << Describe(report);
}

TEST_F(AuditLogTest, WithoutASignerNoCheckpointsAreWritten) {
  AuditLog log(*store_, nullptr, "", EveryRecords(2));
  ASSERT_TRUE(log.Open().ok());
  AppendMany(log, 1, 5);
  log.Stop();
  EXPECT_TRUE(CheckpointSeqs().empty());
  VerifyReport report = VerifyStore();
  EXPECT_TRUE(report.ok) << Describe(report);
  EXPECT_EQ(report.records, 5);
}

TEST_F(AuditLogTest, FailedCommitFailsTheLogForGood) {
  FailingStore failing(*store_, 3);
  AuditLog log(failing, &key_, "k1", EveryRecords(1000));
  ASSERT_TRUE(log.Open().ok());
  for (int i = 1; i <= 3; ++i) {
    std::vector<store::Mutation> mutations;
    mutations.push_back(RunMutation("run-" + std::to_string(i)));
    ASSERT_TRUE(log.AppendAndWait(std::move(mutations), MakeEvent(i)).ok());
  }
  EXPECT_FALSE(log.failed());

  std::vector<store::Mutation> mutations;
  mutations.push_back(RunMutation("run-4"));
  Result<std::int64_t> failed = log.AppendAndWait(std::move(mutations), MakeEvent(4));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(failed.error().message(), "audit log unavailable: disk full");
  EXPECT_TRUE(log.failed());

  Result<std::int64_t> later = log.AppendAndWait({}, MakeEvent(5));
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(log.last_seq(), 3);
  log.Stop();
  const AuditLogStats stats = log.stats();
  EXPECT_EQ(stats.commits, 3u);
  EXPECT_EQ(stats.records, 3u);
  EXPECT_EQ(stats.failed_commits, 1u);  // the fifth append never reached the store

  EXPECT_EQ(Rows().size(), 3u);
  Result<std::optional<std::string>> run4 = store_->Get(store::Table::kRuns, "run-4");
  ASSERT_TRUE(run4.ok());
  EXPECT_FALSE(run4->has_value());
  VerifyReport report = VerifyStore();
  EXPECT_TRUE(report.ok) << Describe(report);
}

TEST_F(AuditLogTest, AppendWhenNotOpenFailsAtOnce) {
  AuditLog log(*store_, &key_, "k1");
  Result<std::int64_t> before = log.AppendAndWait({}, MakeEvent(1));
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().code(), ErrorCode::kUnavailable);
  ASSERT_TRUE(log.Open().ok());
  EXPECT_FALSE(log.Open().ok());  // already open
  ASSERT_TRUE(log.AppendAndWait({}, MakeEvent(1)).ok());
  log.Stop();
  EXPECT_FALSE(log.AppendAndWait({}, MakeEvent(2)).ok());
  EXPECT_EQ(Rows().size(), 1u);
}

TEST_F(AuditLogTest, OpenRefusesAnEditedHeadOrATruncatedChain) {
  {
    AuditLog log(*store_, &key_, "k1", EveryRecords(5));
    ASSERT_TRUE(log.Open().ok());
    AppendMany(log, 1, 10);
  }
  store_.reset();
  Tamper(db_path_, "UPDATE audit_log SET time_ms = time_ms + 1 WHERE seq = 10");
  OpenStore();
  {
    AuditLog log(*store_, &key_, "k1");
    Status opened = log.Open();
    ASSERT_FALSE(opened.ok());
    EXPECT_NE(opened.error().message().find("record 10"), std::string::npos)
        << opened.error().message();
  }
  store_.reset();
  Tamper(db_path_, "DELETE FROM audit_log WHERE seq = 10");
  OpenStore();
  AuditLog log(*store_, &key_, "k1");
  Status opened = log.Open();
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message().find("truncated"), std::string::npos)
      << opened.error().message();
}

// ---------------------------------------------------------------------------------------------
// Tampering with the database file

// 50 records with checkpoints at 10, 20, 30, 40 and 50, then the store is closed; each test
// edits the file with plain SQL and verifies what the store reads back.
class TamperTest : public AuditLogTest {
 protected:
  void SetUp() override {
    AuditLogTest::SetUp();
    {
      AuditLog log(*store_, &key_, "k1", EveryRecords(10));
      ASSERT_TRUE(log.Open().ok());
      AppendMany(log, 1, 50);
    }
    original_ = Rows();
    ASSERT_EQ(original_.size(), 50u);
    ASSERT_EQ(CheckpointSeqs(), (std::vector<std::int64_t>{10, 20, 30, 40, 50}));
    VerifyReport report = VerifyStore();
    ASSERT_TRUE(report.ok) << Describe(report);
    store_.reset();
  }

  VerifyReport TamperAndVerify(const std::string& sql) {
    Tamper(db_path_, sql);
    OpenStore();
    return VerifyStore();
  }

  const store::AuditRow& Original(std::int64_t seq) const {
    return original_[static_cast<std::size_t>(seq - 1)];
  }

  // SQL that moves records `from`.. up (delta > 0) or down by `delta`, without collisions.
  static std::string Renumber(std::int64_t from, std::int64_t delta) {
    return "UPDATE audit_log SET seq = -seq WHERE seq >= " + std::to_string(from) +
           "; UPDATE audit_log SET seq = " + std::to_string(delta) + " - seq WHERE seq < 0;";
  }

  std::vector<store::AuditRow> original_;
};

TEST_F(TamperTest, EditedBody) {
  VerifyReport report = TamperAndVerify(
      "UPDATE audit_log SET body = replace(body, 's3:GetObject', 's3:PutObject') WHERE seq = 25");
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"edited", 25}})) << Describe(report);
}

TEST_F(TamperTest, EditedTimeOrType) {
  VerifyReport report = TamperAndVerify(
      "UPDATE audit_log SET time_ms = time_ms - 1000 WHERE seq = 12;"
      "UPDATE audit_log SET type = 'token.rejected' WHERE seq = 33");
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"edited", 12}, {"edited", 33}}))
      << Describe(report);
}

TEST_F(TamperTest, EditedBodyWithRecomputedHashBreaksTheNextLink) {
  const store::AuditRow& row = Original(25);
  store::AuditRow forged = MakeRow(25, row.time_ms, CanonicalBody(MakeEvent(999)), row.prev_hash);
  VerifyReport report = TamperAndVerify("UPDATE audit_log SET body = " + SqlQuote(forged.body) +
                                        ", hash = " + SqlQuote(forged.hash) + " WHERE seq = 25");
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"bad-link", 26}})) << Describe(report);
}

TEST_F(TamperTest, EditedLastRecordWithRecomputedHashMismatchesItsCheckpoint) {
  const store::AuditRow& row = Original(50);
  store::AuditRow forged = MakeRow(50, row.time_ms, CanonicalBody(MakeEvent(999)), row.prev_hash);
  VerifyReport report = TamperAndVerify("UPDATE audit_log SET body = " + SqlQuote(forged.body) +
                                        ", hash = " + SqlQuote(forged.hash) + " WHERE seq = 50");
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"checkpoint-mismatch", 50}}))
      << Describe(report);
}

TEST_F(TamperTest, RewrittenTailIsCaughtByTheCheckpoints) {
  std::string sql;
  std::string prev = Original(24).hash;
  for (std::int64_t seq = 25; seq <= 50; ++seq) {
    const store::AuditRow& row = Original(seq);
    std::string body = seq == 25 ? CanonicalBody(MakeEvent(999)) : row.body;
    store::AuditRow forged = MakeRow(seq, row.time_ms, body, prev);
    sql += "UPDATE audit_log SET body = " + SqlQuote(forged.body) +
           ", prev_hash = " + SqlQuote(forged.prev_hash) + ", hash = " + SqlQuote(forged.hash) +
           " WHERE seq = " + std::to_string(seq) + ";";
    prev = forged.hash;
  }
  VerifyReport report = TamperAndVerify(sql);
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"checkpoint-mismatch", 30},
                                                   {"checkpoint-mismatch", 40},
                                                   {"checkpoint-mismatch", 50}}))
      << Describe(report);
}

TEST_F(TamperTest, NonCanonicalBodyWithRecomputedHash) {
  const store::AuditRow& row = Original(25);
  store::AuditRow forged = MakeRow(25, row.time_ms, row.body + " ", row.prev_hash);
  VerifyReport report = TamperAndVerify("UPDATE audit_log SET body = " + SqlQuote(forged.body) +
                                        ", hash = " + SqlQuote(forged.hash) + " WHERE seq = 25");
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"edited", 25}})) << Describe(report);
  EXPECT_NE(report.problems[0].message.find("canonical"), std::string::npos);
}

TEST_F(TamperTest, DeletedMiddleRecords) {
  VerifyReport report = TamperAndVerify("DELETE FROM audit_log WHERE seq = 25");
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"gap", 25}})) << Describe(report);

  store_.reset();
  report = TamperAndVerify("DELETE FROM audit_log WHERE seq BETWEEN 26 AND 28");
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"gap", 25}})) << Describe(report);
  EXPECT_EQ(report.problems[0].message, "records 25..28 are missing");
}

TEST_F(TamperTest, DeletedFirstRecords) {
  VerifyReport report = TamperAndVerify("DELETE FROM audit_log WHERE seq <= 3");
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"gap", 1}})) << Describe(report);
}

TEST_F(TamperTest, DeletedLastRecordsAreTruncation) {
  VerifyReport report = TamperAndVerify("DELETE FROM audit_log WHERE seq > 45");
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"truncated", 50}})) << Describe(report);
  EXPECT_EQ(report.last_seq, 45);
}

TEST_F(TamperTest, DeletedRecordWithRenumberedTail) {
  VerifyReport report = TamperAndVerify("DELETE FROM audit_log WHERE seq = 25;" + Renumber(26, -1));
  // Renumbering moves every later checkpointed record, so those checkpoints fail too.
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"gap", 25},
                                                   {"checkpoint-mismatch", 30},
                                                   {"checkpoint-mismatch", 40},
                                                   {"truncated", 50}}))
      << Describe(report);
}

TEST_F(TamperTest, InsertedRecordWithRenumberedTail) {
  store::AuditRow forged =
      MakeRow(25, Original(25).time_ms, CanonicalBody(MakeEvent(999)), Original(24).hash);
  VerifyReport report = TamperAndVerify(Renumber(25, 1) + SqlInsert(forged));
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"inserted", 25},
                                                   {"checkpoint-mismatch", 30},
                                                   {"checkpoint-mismatch", 40},
                                                   {"checkpoint-mismatch", 50}}))
      << Describe(report);
}

TEST_F(TamperTest, SwappedNeighbours) {
  VerifyReport report = TamperAndVerify(
      "UPDATE audit_log SET seq = -1 WHERE seq = 22; UPDATE audit_log SET seq = 22 WHERE seq = 23;"
      "UPDATE audit_log SET seq = 23 WHERE seq = -1;");
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"reordered", 22}, {"reordered", 23}}))
      << Describe(report);
}

TEST_F(TamperTest, SwappedDistantRecords) {
  VerifyReport report = TamperAndVerify(
      "UPDATE audit_log SET seq = -1 WHERE seq = 22; UPDATE audit_log SET seq = 22 WHERE seq = 27;"
      "UPDATE audit_log SET seq = 27 WHERE seq = -1;");
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"reordered", 22}, {"reordered", 27}}))
      << Describe(report);
}

TEST_F(TamperTest, ForgedCheckpointSignatureAndHash) {
  VerifyReport report = TamperAndVerify(
      "UPDATE audit_checkpoints SET signature = (SELECT signature FROM audit_checkpoints WHERE "
      "seq = 30) WHERE seq = 20");
  EXPECT_EQ(Problems(report), (std::vector<KindAt>{{"bad-signature", 20}})) << Describe(report);

  store_.reset();
  report = TamperAndVerify("UPDATE audit_checkpoints SET hash = " + SqlQuote(Original(39).hash) +
                           " WHERE seq = 40");
  EXPECT_EQ(Problems(report),
            (std::vector<KindAt>{
                {"bad-signature", 20}, {"bad-signature", 40}, {"checkpoint-mismatch", 40}}))
      << Describe(report);
}

TEST_F(TamperTest, CheckpointsNeedTheRightKey) {
  OpenStore();
  keys_.clear();
  VerifyReport report = VerifyStore();
  EXPECT_EQ(report.problems.size(), 5u);
  for (const Problem& problem : report.problems) EXPECT_EQ(problem.kind, "unknown-key");

  keys_["k1"] = crypto::Ed25519PrivateKey::Generate().PublicKeyRaw();  // someone else's key
  report = VerifyStore();
  EXPECT_EQ(report.problems.size(), 5u);
  for (const Problem& problem : report.problems) EXPECT_EQ(problem.kind, "bad-signature");
}

// ---------------------------------------------------------------------------------------------
// The export checked by the independent Python verifier (scripts/audit_verify.py)

TEST_F(AuditLogTest, ExportVerifiesWithThePythonScript) {
  if (std::system("python3 --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  AuditLog log(*store_, &key_, "k1", EveryRecords(10));
  ASSERT_TRUE(log.Open().ok());
  AppendMany(log, 1, 20);
  Event odd;
  odd.type = "authorize";
  odd.actor.human = "human:Zo\xc3\xab \xf0\x9f\x98\x80 \x7f\x01\xff";
  odd.details_json =
      R"({"note":"tab\t quote\" slash\\ \/","ratio":0.5,"big":1e15,"k":[true,null]})";
  ASSERT_TRUE(log.AppendAndWait({}, odd).ok());
  odd.details_json = "not json \xff";
  ASSERT_TRUE(log.AppendAndWait({}, odd).ok());
  log.Stop();

  std::vector<store::AuditRow> rows = Rows();
  std::string good = dir_.File("good.jsonl");
  std::string bad = dir_.File("bad.jsonl");
  {
    std::ofstream good_out(good);
    std::ofstream bad_out(bad);
    for (const store::AuditRow& row : rows) {
      std::string line = ExportLine(row);
      good_out << line << "\n";
      if (row.seq == 7) line.replace(line.find("s3:GetObject"), 12, "s3:PutObject");
      bad_out << line << "\n";
    }
  }
  std::string script = std::string(XROLE_SOURCE_DIR) + "/scripts/audit_verify.py";
  auto run = [&](const std::string& args) {
    int status = std::system(("python3 " + script + " " + args + " > /dev/null").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  std::string pins;
  for (const store::CheckpointRow& checkpoint : Checkpoints()) {
    pins += " --pin " + std::to_string(checkpoint.seq) + ":" + checkpoint.hash;
  }
  EXPECT_EQ(run(good + pins), 0);
  EXPECT_EQ(run(bad), 1);
  EXPECT_EQ(run(good + " --pin 5:" + rows[5].hash), 1);
}

}  // namespace
}  // namespace xrole::audit
