#include "store/store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/audit_segments.h"
#include "store/migrations.h"
#include "support/temp_dir.h"

namespace xrole::store {
namespace {

namespace fs = std::filesystem;

AuditRow Audit(std::int64_t seq) {
  AuditRow row;
  row.seq = seq;
  row.time_ms = 1700000000000 + seq;
  row.type = "session.assume";
  row.body = "{\"n\":" + std::to_string(seq) + "}";
  row.prev_hash = std::string(64, '0');
  row.hash = std::string(63, 'a') + std::to_string(seq % 10);
  return row;
}

Mutation Upsert(Table table, std::string id, std::string doc) {
  return Mutation{table, std::move(id), std::move(doc)};
}

Mutation Delete(Table table, std::string id) {
  return Mutation{table, std::move(id), std::nullopt};
}

// Direct access to the database file, as an operator (or an attacker) with sqlite3 would have.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Runs `sql`; returns the error message, or "" on success.
  std::string Exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) == SQLITE_OK) return "";
    std::string message = error != nullptr ? error : "error";
    sqlite3_free(error);
    return message;
  }

  // Every row of `sql`, columns joined with '|'.
  std::vector<std::string> Rows(const std::string& sql) {
    std::vector<std::string> rows;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        if (i > 0) row += '|';
        const unsigned char* text = sqlite3_column_text(stmt, i);
        row += text != nullptr ? reinterpret_cast<const char*>(text) : "NULL";
      }
      rows.push_back(row);
    }
    sqlite3_finalize(stmt);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "xrole-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = (fs::path(dir_) / "xrole.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Store> Open() {
    auto store = OpenSqlite(path_);
    EXPECT_TRUE(store.ok()) << store.error().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::vector<std::int64_t> AuditSeqs(Store& store) {
    auto rows = store.ReadAudit(0, 0);
    EXPECT_TRUE(rows.ok()) << rows.error().ToString();
    std::vector<std::int64_t> seqs;
    if (rows.ok()) {
      for (const AuditRow& row : *rows) seqs.push_back(row.seq);
    }
    return seqs;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SqliteStoreTest, MigrationsCreateTheSchemaOnceAndReopenIsIdempotent) {
  ASSERT_NE(Open(), nullptr);
  {
    RawDb raw(path_);
    std::vector<std::string> tables = raw.Rows(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name");
    EXPECT_EQ(tables, (std::vector<std::string>{"access_keys", "approvals", "audit_checkpoints",
                                                "audit_log", "meta", "objects", "runs",
                                                "schema_migrations", "sessions", "signing_keys"}));
    EXPECT_EQ(raw.Rows("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  }
  for (int i = 0; i < 2; ++i) ASSERT_NE(Open(), nullptr);
  RawDb raw(path_);
  std::vector<std::string> versions = raw.Rows("SELECT version FROM schema_migrations");
  ASSERT_EQ(versions.size(), SqliteMigrations().size());
  EXPECT_EQ(versions.back(), std::to_string(LatestSqliteSchemaVersion()));
}

TEST_F(SqliteStoreTest, CommittedBatchIsSeenAfterReopen) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    Batch batch;
    batch.mutations = {
        Upsert(Table::kObjects, "Role/reader", R"({"kind":"Role","name":"reader"})"),
        Upsert(Table::kRuns, "run-1", R"({"workflow":"ci","agent":"bot","status":"active"})"),
        Upsert(Table::kSessions, "ses-1", R"({"runId":"run-1","agent":"bot","role":"reader"})"),
        Upsert(Table::kApprovals, "apr-1", R"({"runId":"run-1","status":"pending"})"),
        Upsert(Table::kAccessKeys, "AKIA1", R"({"principal":"agent:bot","status":"active"})"),
        Upsert(Table::kSigningKeys, "k1", R"({"publicKey":"AAAA","status":"active"})"),
        Upsert(Table::kMeta, "schema", R"("1")"),
    };
    batch.audit = {Audit(1), Audit(2)};
    batch.checkpoints = {CheckpointRow{2, Audit(2).hash, 1700000000002, "k1", "c2ln"}};
    Status committed = store->Commit(batch);
    ASSERT_TRUE(committed.ok()) << committed.error().ToString();
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto runs = store->LoadTable(Table::kRuns);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].id, "run-1");
  EXPECT_EQ((*runs)[0].doc, R"({"workflow":"ci","agent":"bot","status":"active"})");
  auto meta = store->Get(Table::kMeta, "schema");
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->value_or(""), R"("1")");
  for (Table table : {Table::kObjects, Table::kSessions, Table::kApprovals, Table::kAccessKeys,
                      Table::kSigningKeys}) {
    auto entities = store->LoadTable(table);
    ASSERT_TRUE(entities.ok());
    EXPECT_EQ(entities->size(), 1u) << TableName(table);
  }
  auto audit = store->ReadAudit(0, 0);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 2u);
  const AuditRow& second = (*audit)[1];
  EXPECT_EQ(second.seq, 2);
  EXPECT_EQ(second.time_ms, Audit(2).time_ms);
  EXPECT_EQ(second.type, "session.assume");
  EXPECT_EQ(second.body, R"({"n":2})");
  EXPECT_EQ(second.prev_hash, Audit(2).prev_hash);
  EXPECT_EQ(second.hash, Audit(2).hash);
  auto checkpoints = store->ReadCheckpoints();
  ASSERT_TRUE(checkpoints.ok());
  ASSERT_EQ(checkpoints->size(), 1u);
  EXPECT_EQ((*checkpoints)[0].seq, 2);
  EXPECT_EQ((*checkpoints)[0].hash, Audit(2).hash);
  EXPECT_EQ((*checkpoints)[0].time_ms, 1700000000002);
  EXPECT_EQ((*checkpoints)[0].key_id, "k1");
  EXPECT_EQ((*checkpoints)[0].signature, "c2ln");
}

TEST_F(SqliteStoreTest, UpsertReplacesAndDeleteRemoves) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch first;
  first.mutations = {Upsert(Table::kSessions, "ses-b", R"({"status":"active"})"),
                     Upsert(Table::kSessions, "ses-a", R"({"status":"active"})"),
                     Upsert(Table::kSessions, "ses-c", R"({"status":"active"})")};
  ASSERT_TRUE(store->Commit(first).ok());
  Batch second;
  second.mutations = {Upsert(Table::kSessions, "ses-a", R"({"status":"revoked"})"),
                      Delete(Table::kSessions, "ses-c"), Delete(Table::kSessions, "ses-missing")};
  Status committed = store->Commit(second);
  ASSERT_TRUE(committed.ok()) << committed.error().ToString();

  auto sessions = store->LoadTable(Table::kSessions);
  ASSERT_TRUE(sessions.ok());
  ASSERT_EQ(sessions->size(), 2u);
  EXPECT_EQ((*sessions)[0].id, "ses-a");  // in id order
  EXPECT_EQ((*sessions)[0].doc, R"({"status":"revoked"})");
  EXPECT_EQ((*sessions)[1].id, "ses-b");
  auto gone = store->Get(Table::kSessions, "ses-c");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  // The same id in another table is another entity.
  auto other = store->Get(Table::kRuns, "ses-a");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
  EXPECT_TRUE(store->Commit(Batch{}).ok());
}

TEST_F(SqliteStoreTest, BatchWithAnExistingAuditSeqAppliesNothing) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch first;
  first.mutations = {Upsert(Table::kRuns, "run-1", R"({"status":"active"})")};
  first.audit = {Audit(1)};
  ASSERT_TRUE(store->Commit(first).ok());

  Batch bad;
  bad.mutations = {Upsert(Table::kRuns, "run-1", R"({"status":"ended"})"),
                   Upsert(Table::kSessions, "ses-new", R"({"runId":"run-1"})"),
                   Delete(Table::kRuns, "run-1")};
  bad.audit = {Audit(2), Audit(1)};
  Status failed = store->Commit(bad);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code(), ErrorCode::kConflict);
  EXPECT_NE(failed.error().message().find(path_), std::string::npos) << failed.error().message();
  EXPECT_NE(failed.error().message().find("audit row 1"), std::string::npos)
      << failed.error().message();

  auto run = store->Get(Table::kRuns, "run-1");
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->value_or(""), R"({"status":"active"})");
  auto session = store->Get(Table::kSessions, "ses-new");
  ASSERT_TRUE(session.ok());
  EXPECT_FALSE(session->has_value());
  EXPECT_EQ(AuditSeqs(*store), (std::vector<std::int64_t>{1}));

  // The failure left no transaction behind: the next batch commits, and survives reopening.
  Batch next;
  next.audit = {Audit(2)};
  ASSERT_TRUE(store->Commit(next).ok());
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(AuditSeqs(*store), (std::vector<std::int64_t>{1, 2}));
}

TEST_F(SqliteStoreTest, InvalidDocumentsAndDuplicateCheckpointsAreRejectedWhole) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch bad_json;
  bad_json.mutations = {Upsert(Table::kRuns, "run-1", "{}"),
                        Upsert(Table::kRuns, "run-2", "{not json")};
  bad_json.audit = {Audit(1)};
  Status failed = store->Commit(bad_json);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(failed.error().message().find("upsert `runs/run-2`"), std::string::npos)
      << failed.error().message();
  EXPECT_TRUE(store->LoadTable(Table::kRuns)->empty());
  EXPECT_TRUE(AuditSeqs(*store).empty());

  Batch empty_id;
  empty_id.mutations = {Upsert(Table::kRuns, "", "{}")};
  EXPECT_EQ(store->Commit(empty_id).error().code(), ErrorCode::kInvalidArgument);

  Batch checkpoint;
  checkpoint.checkpoints = {CheckpointRow{1, "h", 1, "k1", "sig"}};
  ASSERT_TRUE(store->Commit(checkpoint).ok());
  Batch again;
  again.audit = {Audit(1)};
  again.checkpoints = {CheckpointRow{1, "h2", 2, "k1", "sig2"}};
  failed = store->Commit(again);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code(), ErrorCode::kConflict);
  EXPECT_TRUE(AuditSeqs(*store).empty());
  auto checkpoints = store->ReadCheckpoints();
  ASSERT_TRUE(checkpoints.ok());
  ASSERT_EQ(checkpoints->size(), 1u);
  EXPECT_EQ((*checkpoints)[0].hash, "h");
}

// The chain is read back in seq order across both places it is kept: the audit_log table
// (batches with state changes) and the segment files (batches of records only).
TEST_F(SqliteStoreTest, ReadAuditHonoursAfterAndLimitInSeqOrder) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch first;
  first.mutations = {Upsert(Table::kRuns, "run-1", "{}")};
  first.audit = {Audit(1), Audit(2), Audit(3)};
  ASSERT_TRUE(store->Commit(first).ok());
  Batch second;
  second.audit = {Audit(4), Audit(5), Audit(6)};
  ASSERT_TRUE(store->Commit(second).ok());
  Batch third;
  third.mutations = {Upsert(Table::kRuns, "run-2", "{}")};
  third.audit = {Audit(7)};
  ASSERT_TRUE(store->Commit(third).ok());
  Batch fourth;
  fourth.audit = {Audit(8), Audit(9), Audit(10)};
  ASSERT_TRUE(store->Commit(fourth).ok());
  {
    RawDb raw(path_);
    EXPECT_EQ(raw.Rows("SELECT seq FROM audit_log ORDER BY seq"),
              (std::vector<std::string>{"1", "2", "3", "7"}));
  }

  auto seqs = [&](std::int64_t after, std::size_t limit) {
    std::vector<std::int64_t> out;
    auto rows = store->ReadAudit(after, limit);
    EXPECT_TRUE(rows.ok());
    if (rows.ok()) {
      for (const AuditRow& row : *rows) out.push_back(row.seq);
    }
    return out;
  };
  EXPECT_EQ(seqs(0, 0), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(seqs(3, 4), (std::vector<std::int64_t>{4, 5, 6, 7}));
  EXPECT_EQ(seqs(8, 100), (std::vector<std::int64_t>{9, 10}));
  EXPECT_EQ(seqs(-5, 2), (std::vector<std::int64_t>{1, 2}));
  EXPECT_TRUE(seqs(10, 0).empty());
  EXPECT_EQ(seqs(0, 1), (std::vector<std::int64_t>{1}));
}

// ForEachAuditRow hands out exactly what one unlimited ReadAudit returns, whatever the page size,
// even for a seq stored twice (in the table and in a segment file, which only editing the
// database does) when a page ends between the two copies.
TEST_F(SqliteStoreTest, ForEachAuditRowReadsPagesAsOneRead) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch with_change;
  with_change.mutations = {Upsert(Table::kRuns, "run-1", "{}")};
  with_change.audit = {Audit(1), Audit(2), Audit(3)};
  ASSERT_TRUE(store->Commit(with_change).ok());
  Batch records;
  for (std::int64_t seq = 4; seq <= 12; ++seq) records.audit.push_back(Audit(seq));
  ASSERT_TRUE(store->Commit(records).ok());
  store.reset();
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.Exec("INSERT INTO audit_log (seq, time_ms, type, body, prev_hash, hash) "
                       "VALUES (5, 1, 'forged', '{}', 'p', 'h'), (9, 1, 'forged', '{}', 'p', 'h')"),
              "");
  }
  store = Open();
  ASSERT_NE(store, nullptr);

  auto text = [](const AuditRow& row) { return std::to_string(row.seq) + ":" + row.type; };
  auto all = store->ReadAudit(0, 0);
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  std::vector<std::string> expected;
  for (const AuditRow& row : *all) expected.push_back(text(row));
  ASSERT_EQ(expected.size(), 14u);
  ASSERT_EQ(expected[4], "5:forged");
  ASSERT_EQ(expected[5], "5:session.assume");

  for (std::size_t page = 0; page <= 15; ++page) {
    std::vector<std::string> read;
    Status status =
        ForEachAuditRow(*store, 0, page, [&](AuditRow row) { read.push_back(text(row)); });
    ASSERT_TRUE(status.ok()) << status.error().ToString();
    EXPECT_EQ(read, expected) << "page " << page;
  }
  std::vector<std::string> after_six;
  ASSERT_TRUE(
      ForEachAuditRow(*store, 6, 2, [&](AuditRow row) { after_six.push_back(text(row)); }).ok());
  EXPECT_EQ(after_six, std::vector<std::string>(expected.begin() + 7, expected.end()));
}

TEST_F(SqliteStoreTest, LastAuditIsTheHighestSeq) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto none = store->LastAudit();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  Batch batch;
  batch.audit = {Audit(1), Audit(2), Audit(3)};
  ASSERT_TRUE(store->Commit(batch).ok());
  auto last = store->LastAudit();
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ((*last)->seq, 3);
  EXPECT_EQ((*last)->hash, Audit(3).hash);
  EXPECT_EQ((*last)->body, Audit(3).body);

  Batch with_change;  // the chain's end moves to the table, then back to the segments
  with_change.mutations = {Upsert(Table::kRuns, "run-1", "{}")};
  with_change.audit = {Audit(4)};
  ASSERT_TRUE(store->Commit(with_change).ok());
  EXPECT_EQ((*store->LastAudit())->seq, 4);
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ((*store->LastAudit())->seq, 4);
  Batch records_only;
  records_only.audit = {Audit(5)};
  ASSERT_TRUE(store->Commit(records_only).ok());
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ((*store->LastAudit())->seq, 5);
  EXPECT_EQ((*store->LastAudit())->hash, Audit(5).hash);
}

// What an operator finds on disk: one JSON object per line, the export format, whose `event`
// is the stored body byte for byte.
TEST_F(SqliteStoreTest, RecordsOnlyBatchesAreAppendedToSegmentFilesAsJsonLines) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch batch;
  batch.audit = {Audit(1), Audit(2)};
  batch.audit[1].type = "tricky \"type\"\n";
  batch.audit[1].body = R"({"a":"x,\"event\":{}","n":[1,{"event":2}]})";
  ASSERT_TRUE(store->Commit(batch).ok());
  {
    RawDb raw(path_);
    EXPECT_TRUE(raw.Rows("SELECT seq FROM audit_log").empty());
  }
  const fs::path segment = fs::path(path_ + "-audit") / "audit-00000000000000000001.jsonl";
  ASSERT_TRUE(fs::exists(segment));
  EXPECT_EQ(fs::status(segment).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  std::ifstream in(segment);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, SegmentLine(batch.audit[0]) + "\n" + SegmentLine(batch.audit[1]) + "\n");
  EXPECT_EQ(SegmentLine(batch.audit[0]),
            R"({"seq":1,"time":1700000000001,"type":"session.assume","prevHash":")" +
                std::string(64, '0') + R"(","hash":")" + Audit(1).hash + R"(","event":{"n":1}})");

  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  auto rows = store->ReadAudit(0, 0);
  ASSERT_TRUE(rows.ok()) << rows.error().ToString();
  ASSERT_EQ(rows->size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const AuditRow& got = (*rows)[i];
    const AuditRow& want = batch.audit[i];
    EXPECT_EQ(got.seq, want.seq);
    EXPECT_EQ(got.time_ms, want.time_ms);
    EXPECT_EQ(got.type, want.type);
    EXPECT_EQ(got.body, want.body);
    EXPECT_EQ(got.prev_hash, want.prev_hash);
    EXPECT_EQ(got.hash, want.hash);
  }
}

TEST_F(SqliteStoreTest, AuditTableOptionKeepsEveryRecordInTheDatabase) {
  auto opened = OpenStore(path_ + "?audit=table");
  ASSERT_TRUE(opened.ok()) << opened.error().ToString();
  std::unique_ptr<Store> store = std::move(opened).value();
  EXPECT_EQ(store->Describe(), "sqlite:" + path_ + "?audit=table");
  Batch batch;
  batch.audit = {Audit(1)};
  ASSERT_TRUE(store->Commit(batch).ok());
  RawDb raw(path_);
  EXPECT_EQ(raw.Rows("SELECT seq FROM audit_log"), std::vector<std::string>{"1"});
  EXPECT_EQ(AuditSeqs(*store), std::vector<std::int64_t>{1});
}

// A crash in the middle of a write leaves part of a line: it is not a record, and the next
// append writes over it.
TEST_F(SqliteStoreTest, ACutShortLastLineIsIgnoredAndOverwritten) {
  const fs::path segment = fs::path(path_ + "-audit") / "audit-00000000000000000001.jsonl";
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    Batch batch;
    batch.audit = {Audit(1), Audit(2)};
    ASSERT_TRUE(store->Commit(batch).ok());
  }
  const auto whole = fs::file_size(segment);
  {
    std::ofstream out(segment, std::ios::app);
    out << SegmentLine(Audit(3)).substr(0, 40);
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(AuditSeqs(*store), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ((*store->LastAudit())->seq, 2);
  EXPECT_EQ(fs::file_size(segment), whole + 40) << "opening changed the file";
  Batch next;
  next.audit = {Audit(3)};
  ASSERT_TRUE(store->Commit(next).ok());
  EXPECT_EQ(AuditSeqs(*store), (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(fs::file_size(segment), whole + SegmentLine(Audit(3)).size() + 1);
}

TEST_F(SqliteStoreTest, SeqsAreCheckedAcrossTheTableAndTheSegments) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch records;
  records.audit = {Audit(1), Audit(2)};
  ASSERT_TRUE(store->Commit(records).ok());
  Batch change;
  change.mutations = {Upsert(Table::kRuns, "run-1", "{}")};
  change.audit = {Audit(2)};
  Status refused = store->Commit(change);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kConflict);
  EXPECT_FALSE(store->Get(Table::kRuns, "run-1")->has_value());
  change.audit = {Audit(3)};
  ASSERT_TRUE(store->Commit(change).ok());
  records.audit = {Audit(3)};
  EXPECT_EQ(store->Commit(records).error().code(), ErrorCode::kConflict);
  records.audit = {Audit(5), Audit(4)};
  EXPECT_FALSE(store->Commit(records).ok());
  records.audit = {Audit(4)};
  records.audit[0].body = "{\n}";
  EXPECT_EQ(store->Commit(records).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(AuditSeqs(*store), (std::vector<std::int64_t>{1, 2, 3}));
}

// Retention: records through a seq leave the table and the segment files in one step that
// readers see whole; the anchor checkpoint stays, and everything survives reopening.
// Offline readers (shared) and retention (exclusive, never waiting) exclude each other; readers
// wait for a retention in progress.
TEST_F(SqliteStoreTest, OfflineReadersAndRetentionExcludeEachOther) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  {
    auto first = HoldOffAuditPrune(path_);
    auto second = HoldOffAuditPrune(path_);  // readers share
    ASSERT_TRUE(first.ok() && second.ok());
    auto refused = store->ExcludeAuditReaders();
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  }
  auto exclusive = store->ExcludeAuditReaders();
  ASSERT_TRUE(exclusive.ok()) << exclusive.error().ToString();
  std::atomic<bool> reader_in{false};
  std::thread reader([&] {
    auto held = HoldOffAuditPrune(path_);
    EXPECT_TRUE(held.ok());
    reader_in = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(reader_in.load());  // waits for the retention in progress
  exclusive->reset();
  reader.join();
  EXPECT_TRUE(reader_in.load());
  EXPECT_FALSE(HoldOffAuditPrune(path_ + ".missing").ok());
}

TEST_F(SqliteStoreTest, PruneAuditRemovesRecordsThroughASeqFromBothPlaces) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (std::int64_t seq = 1; seq <= 12; ++seq) {
    Batch batch;
    if (seq % 3 == 0) batch.mutations = {Upsert(Table::kRuns, "run-" + std::to_string(seq), "{}")};
    batch.audit = {Audit(seq)};
    if (seq == 4 || seq == 8)
      batch.checkpoints = {CheckpointRow{seq, Audit(seq).hash, 1, "k", "s"}};
    ASSERT_TRUE(store->Commit(batch).ok());
  }
  const CheckpointRow anchor{7, Audit(7).hash, 2, "k", "anchor"};
  EXPECT_EQ(store->PruneAudit(12, CheckpointRow{12, "h", 2, "k", "s"}).error().code(),
            ErrorCode::kInvalidArgument);  // the last record stays
  EXPECT_EQ(store->PruneAudit(7, CheckpointRow{6, "h", 2, "k", "s"}).error().code(),
            ErrorCode::kInvalidArgument);  // the anchor must pin the cut
  Status pruned = store->PruneAudit(7, anchor);
  ASSERT_TRUE(pruned.ok()) << pruned.error().ToString();
  EXPECT_EQ(*store->AuditPrunedThrough(), 7);
  EXPECT_EQ(AuditSeqs(*store), (std::vector<std::int64_t>{8, 9, 10, 11, 12}));
  EXPECT_EQ((*store->ReadAudit(3, 2)).front().seq, 8);
  auto checkpoints = store->ReadCheckpoints();
  ASSERT_TRUE(checkpoints.ok());
  ASSERT_EQ(checkpoints->size(), 2u);
  EXPECT_EQ((*checkpoints)[0].signature, "anchor");
  EXPECT_EQ((*checkpoints)[1].seq, 8);
  EXPECT_EQ(store->PruneAudit(5, CheckpointRow{5, "h", 2, "k", "s"}).error().code(),
            ErrorCode::kInvalidArgument);  // not before the last prune
  {
    RawDb raw(path_);
    EXPECT_EQ(raw.Rows("SELECT seq FROM audit_log ORDER BY seq"),
              (std::vector<std::string>{"9", "12"}));
  }
  // Appends continue after the chain's end, and all of it survives reopening.
  Batch next;
  next.audit = {Audit(13)};
  ASSERT_TRUE(store->Commit(next).ok());
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->AuditPrunedThrough(), 7);
  EXPECT_EQ(AuditSeqs(*store), (std::vector<std::int64_t>{8, 9, 10, 11, 12, 13}));
  EXPECT_EQ((*store->LastAudit())->seq, 13);
}

TEST(AuditSegmentsTest, PruneDeletesWholeFilesOnlyAndReadsSkipTheRest) {
  testing::TempDir temp("xrole-segments");
  const std::string dir = temp.path().string();
  auto segments = AuditSegments::Open(dir, /*full_sync=*/false, /*segment_bytes=*/1);
  ASSERT_TRUE(segments.ok());
  for (std::int64_t first : {1, 4, 7}) {  // files [1..3], [4..6], [7..9]
    ASSERT_TRUE((*segments)->Append({Audit(first), Audit(first + 1), Audit(first + 2)}).ok());
    (*segments)->Publish();
  }
  ASSERT_TRUE((*segments)->PruneThrough(5).ok());
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"audit-00000000000000000004.jsonl",
                                             "audit-00000000000000000007.jsonl"}));
  auto rows = (*segments)->Read(0, 0);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_EQ(rows->front().seq, 6);
  // The last file is never removed, even when all of it is pruned.
  ASSERT_TRUE((*segments)->PruneThrough(9).ok());
  EXPECT_TRUE(fs::exists(fs::path(dir) / "audit-00000000000000000007.jsonl"));
  EXPECT_FALSE(fs::exists(fs::path(dir) / "audit-00000000000000000004.jsonl"));
  EXPECT_TRUE((*segments)->Read(0, 0)->empty());
}

// Reads after a seq start at the index's nearest mark: the same records as a full scan, whether
// the marks come from appends or from the first scan of a file this object did not write, and
// a bad line is still reported with its line number.
TEST(AuditSegmentsTest, ReadsAfterASeqMatchAFullScan) {
  testing::TempDir temp("xrole-segments");
  const std::string dir = temp.path().string();
  constexpr std::int64_t kRecords = 3000;
  auto padded = [](std::int64_t seq) {
    AuditRow row = Audit(seq);
    row.body = "{\"n\":" + std::to_string(seq) + ",\"pad\":\"" + std::string(300, 'x') + "\"}";
    return row;
  };
  auto check = [&](AuditSegments& segments) {
    for (std::int64_t after : {std::int64_t{0}, std::int64_t{1}, std::int64_t{199},
                               std::int64_t{200}, std::int64_t{1234}, kRecords - 1, kRecords}) {
      for (std::size_t limit : {std::size_t{0}, std::size_t{1}, std::size_t{250}}) {
        auto rows = segments.Read(after, limit);
        ASSERT_TRUE(rows.ok()) << rows.error().ToString();
        std::int64_t want = kRecords - after;
        if (limit != 0) want = std::min<std::int64_t>(want, static_cast<std::int64_t>(limit));
        ASSERT_EQ(static_cast<std::int64_t>(rows->size()), want) << after << " " << limit;
        for (std::size_t i = 0; i < rows->size(); ++i) {
          ASSERT_EQ((*rows)[i].seq, after + 1 + static_cast<std::int64_t>(i));
          ASSERT_EQ((*rows)[i].body, padded((*rows)[i].seq).body);
        }
      }
    }
  };
  {
    auto segments = AuditSegments::Open(dir, /*full_sync=*/false);
    ASSERT_TRUE(segments.ok());
    for (std::int64_t first = 1; first <= kRecords; first += 7) {
      std::vector<AuditRow> batch;
      for (std::int64_t seq = first; seq < first + 7 && seq <= kRecords; ++seq) {
        batch.push_back(padded(seq));
      }
      ASSERT_TRUE((*segments)->Append(batch).ok());
      (*segments)->Publish();
    }
    check(**segments);
  }
  auto reopened = AuditSegments::Open(dir, /*full_sync=*/false);
  ASSERT_TRUE(reopened.ok());
  check(**reopened);  // the first read indexes the file, the later ones use the marks
  ASSERT_TRUE((*reopened)->Append({padded(kRecords + 1)}).ok());
  (*reopened)->Publish();
  auto tail = (*reopened)->Read(kRecords - 2, 0);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 3u);
  EXPECT_EQ(tail->back().seq, kRecords + 1);

  // Line 2500 garbled (same length, so the marks still point at line starts).
  const fs::path file = fs::path(dir) / "audit-00000000000000000001.jsonl";
  std::string text;
  {
    std::ifstream in(file);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::size_t at = 0;
  for (int line = 1; line < 2500; ++line) at = text.find('\n', at) + 1;
  text[at + 1] = '!';
  {
    std::ofstream out(file, std::ios::trunc);
    out << text;
  }
  auto broken = (*reopened)->Read(2400, 200);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message().find("line 2500"), std::string::npos)
      << broken.error().message();
}

// A new file's name is its first seq, past the chain's end: a file of that name may hold a
// line cut short by a crash (dropped), never a whole one (refused, not overwritten).
TEST(AuditSegmentsTest, ANewSegmentNeverOverwritesRecords) {
  testing::TempDir temp("xrole-segments");
  const std::string dir = temp.path().string();
  auto segments = AuditSegments::Open(dir, /*full_sync=*/false, /*segment_bytes=*/1);
  ASSERT_TRUE(segments.ok());
  ASSERT_TRUE((*segments)->Append({Audit(1), Audit(2)}).ok());
  (*segments)->Publish();
  const fs::path third = fs::path(dir) / "audit-00000000000000000003.jsonl";
  {
    std::ofstream out(third);
    out << SegmentLine(Audit(3)).substr(0, 30);  // cut short: dropped
  }
  ASSERT_TRUE((*segments)->Append({Audit(3)}).ok());
  (*segments)->Publish();
  EXPECT_EQ(fs::file_size(third), SegmentLine(Audit(3)).size() + 1);
  const fs::path fourth = fs::path(dir) / "audit-00000000000000000004.jsonl";
  const std::string someone_elses = SegmentLine(Audit(9)) + "\n";
  {
    std::ofstream out(fourth);
    out << someone_elses;
  }
  Status refused = (*segments)->Append({Audit(4)});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("already holds records"), std::string::npos)
      << refused.error().message();
  std::ifstream in(fourth);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()),
            someone_elses);
  EXPECT_EQ((*segments)->last_seq(), 3);
}

// Appends that pass kWritebackBytes (where writeback of the bytes before is started), one of
// them discarded after passing it, and a reopen in the middle: every published record reads
// back whole and in order, and the discarded ones never.
TEST(AuditSegmentsTest, RecordsReadBackWholeAcrossWritebackRequestsAndDiscards) {
  testing::TempDir temp("xrole-segments");
  const std::string dir = temp.path().string();
  constexpr std::int64_t kBatch = 600;
  auto body = [](std::int64_t seq) {
    return "{\"n\":" + std::to_string(seq) + ",\"pad\":\"" + std::string(1000, 'x') + "\"}";
  };
  auto batch = [&](std::int64_t first) {
    std::vector<AuditRow> rows;
    for (std::int64_t seq = first; seq < first + kBatch; ++seq) {
      AuditRow row = Audit(seq);
      row.body = body(seq);
      rows.push_back(std::move(row));
    }
    return rows;
  };
  std::int64_t next = 1;
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto segments = AuditSegments::Open(dir, /*full_sync=*/false);
    ASSERT_TRUE(segments.ok()) << segments.error().ToString();
    for (int round = 0; round < 4; ++round) {  // about 600 KB a batch
      ASSERT_TRUE((*segments)->Append(batch(next)).ok());
      if (round == 2) {
        ASSERT_TRUE((*segments)->Discard().ok());
        continue;
      }
      (*segments)->Publish();
      next += kBatch;
    }
  }
  auto segments = AuditSegments::Open(dir, false);
  ASSERT_TRUE(segments.ok());
  auto rows = (*segments)->Read(0, 0);
  ASSERT_TRUE(rows.ok()) << rows.error().ToString();
  ASSERT_EQ(static_cast<std::int64_t>(rows->size()), next - 1);
  for (std::size_t i = 0; i < rows->size(); ++i) {
    const AuditRow& row = (*rows)[i];
    ASSERT_EQ(row.seq, static_cast<std::int64_t>(i) + 1);
    ASSERT_EQ(row.body, body(row.seq));
  }
}

TEST(AuditSegmentsTest, SegmentsRollOverAndAreReadAcrossFiles) {
  testing::TempDir temp("xrole-segments");
  const std::string dir = temp.path().string();
  {
    // A segment size of one byte: every append starts a file.
    auto segments = AuditSegments::Open(dir, /*full_sync=*/false, /*segment_bytes=*/1);
    ASSERT_TRUE(segments.ok()) << segments.error().ToString();
    for (std::int64_t first : {1, 4, 7}) {
      ASSERT_TRUE((*segments)->Append({Audit(first), Audit(first + 1), Audit(first + 2)}).ok());
      (*segments)->Publish();
    }
    ASSERT_TRUE((*segments)->Append({Audit(10)}).ok());
    ASSERT_TRUE((*segments)->Discard().ok());  // never visible, and its file is gone
    auto read = (*segments)->Read(0, 0);
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read->size(), 9u);
  }
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"audit-00000000000000000001.jsonl",
                                             "audit-00000000000000000004.jsonl",
                                             "audit-00000000000000000007.jsonl"}));
  auto segments = AuditSegments::Open(dir, false, 1);
  ASSERT_TRUE(segments.ok());
  EXPECT_EQ((*segments)->last_seq(), 9);
  auto seqs = [&](std::int64_t after, std::size_t limit) {
    std::vector<std::int64_t> out;
    auto rows = (*segments)->Read(after, limit);
    EXPECT_TRUE(rows.ok());
    if (rows.ok()) {
      for (const AuditRow& row : *rows) out.push_back(row.seq);
    }
    return out;
  };
  EXPECT_EQ(seqs(2, 4), (std::vector<std::int64_t>{3, 4, 5, 6}));
  EXPECT_EQ(seqs(6, 0), (std::vector<std::int64_t>{7, 8, 9}));
  EXPECT_EQ(seqs(9, 0), (std::vector<std::int64_t>{}));

  // A line that is not a record is an error that says where.
  {
    std::ofstream out(fs::path(dir) / "audit-00000000000000000004.jsonl", std::ios::trunc);
    out << SegmentLine(Audit(4)) << "\n"
        << "{\"seq\":5, garbage\n"
        << SegmentLine(Audit(6)) << "\n";
  }
  auto broken = (*segments)->Read(3, 0);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message().find("audit-00000000000000000004.jsonl` line 2"),
            std::string::npos)
      << broken.error().message();
}

TEST_F(SqliteStoreTest, CheckpointsAreReadInSeqOrder) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto none = store->ReadCheckpoints();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  Batch batch;
  batch.checkpoints = {CheckpointRow{200, "h200", 2, "k2", "s200"},
                       CheckpointRow{100, "h100", 1, "k1", "s100"}};
  ASSERT_TRUE(store->Commit(batch).ok());
  Batch later;
  later.checkpoints = {CheckpointRow{300, "h300", 3, "k2", "s300"}};
  ASSERT_TRUE(store->Commit(later).ok());
  auto checkpoints = store->ReadCheckpoints();
  ASSERT_TRUE(checkpoints.ok());
  ASSERT_EQ(checkpoints->size(), 3u);
  EXPECT_EQ((*checkpoints)[0].seq, 100);
  EXPECT_EQ((*checkpoints)[0].key_id, "k1");
  EXPECT_EQ((*checkpoints)[1].seq, 200);
  EXPECT_EQ((*checkpoints)[2].seq, 300);
  EXPECT_EQ((*checkpoints)[2].signature, "s300");
}

TEST_F(SqliteStoreTest, RefusesADatabaseWithANewerSchema) {
  ASSERT_NE(Open(), nullptr);
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)"), "");
  }
  auto refused = OpenSqlite(path_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  const std::string& message = refused.error().message();
  EXPECT_NE(message.find(path_), std::string::npos) << message;
  EXPECT_NE(message.find("schema version 999 is newer"), std::string::npos) << message;
  RawDb raw(path_);
  EXPECT_EQ(raw.Rows("SELECT MAX(version) FROM schema_migrations"),
            std::vector<std::string>{"999"});
}

TEST_F(SqliteStoreTest, RefusesAForeignDatabaseWhoseTablesClash) {
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.Exec("CREATE TABLE sessions (x INTEGER)"), "");
  }
  auto refused = OpenSqlite(path_);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("migration 1"), std::string::npos)
      << refused.error().message();
  RawDb raw(path_);
  // The failed migration was rolled back whole.
  EXPECT_EQ(raw.Rows("SELECT COUNT(*) FROM sqlite_master WHERE name = 'runs'"),
            std::vector<std::string>{"0"});
}

TEST_F(SqliteStoreTest, OpenErrorsNameThePathAndOperation) {
  std::string missing_dir = (fs::path(dir_) / "no-such-dir" / "x.db").string();
  auto missing = OpenSqlite(missing_dir);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(missing.error().message(),
            "sqlite store `" + missing_dir + "`: create: No such file or directory");

  std::string garbage = (fs::path(dir_) / "garbage.db").string();
  std::ofstream(garbage) << std::string(8192, 'x');
  auto not_db = OpenSqlite(garbage);
  ASSERT_FALSE(not_db.ok());
  EXPECT_NE(not_db.error().message().find("`" + garbage + "`"), std::string::npos)
      << not_db.error().message();
  EXPECT_NE(not_db.error().message().find("not a database"), std::string::npos)
      << not_db.error().message();
}

TEST_F(SqliteStoreTest, OpenStoreDispatchesOnTheUrl) {
  auto by_url = OpenStore("sqlite:" + path_);
  ASSERT_TRUE(by_url.ok()) << by_url.error().ToString();
  EXPECT_EQ((*by_url)->Describe(), "sqlite:" + path_);
  Batch batch;
  batch.audit = {Audit(1)};
  ASSERT_TRUE((*by_url)->Commit(batch).ok());
  by_url->reset();

  auto bare = OpenStore(path_);
  ASSERT_TRUE(bare.ok()) << bare.error().ToString();
  EXPECT_EQ(AuditSeqs(**bare), (std::vector<std::int64_t>{1}));
  bare->reset();

  auto full = OpenStore("sqlite:" + path_ + "?sync=full");
  ASSERT_TRUE(full.ok()) << full.error().ToString();
  EXPECT_EQ((*full)->Describe(), "sqlite:" + path_ + "?sync=full");
  EXPECT_EQ(AuditSeqs(**full), (std::vector<std::int64_t>{1}));
  full->reset();

  auto unknown_option = OpenStore("sqlite:" + path_ + "?sync=sometimes");
  ASSERT_FALSE(unknown_option.ok());
  EXPECT_EQ(unknown_option.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(unknown_option.error().message().find("`sync=sometimes`"), std::string::npos);

  auto postgres = OpenStore("postgres://xrole@127.0.0.1/xrole");
  ASSERT_FALSE(postgres.ok());
  EXPECT_EQ(postgres.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(postgres.error().message(), "postgresql store not built yet");
  EXPECT_EQ(OpenStore("postgresql://h/db").error().code(), ErrorCode::kUnavailable);

  EXPECT_EQ(OpenStore("mysql://h/db").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("sqlite:").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(OpenStore(":memory:").error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, PathStartingWithFileIsAPlainFileName) {
  fs::path old = fs::current_path();
  fs::current_path(dir_);
  auto store = OpenStore("sqlite:file:odd.db?sync=normal");
  fs::current_path(old);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  EXPECT_EQ((*store)->Describe(), "sqlite:file:odd.db");
  EXPECT_TRUE(fs::exists(fs::path(dir_) / "file:odd.db"));
}

TEST_F(SqliteStoreTest, DatabaseFilesAreOwnerOnly) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch batch;
  batch.audit = {Audit(1)};
  ASSERT_TRUE(store->Commit(batch).ok());
  for (const std::string& file : {path_, path_ + "-wal"}) {
    struct stat info {};
    ASSERT_EQ(stat(file.c_str(), &info), 0) << file;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << file;
  }
}

TEST_F(SqliteStoreTest, GeneratedColumnsAreQueryableAndIndexed) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch batch;
  batch.mutations = {
      Upsert(Table::kSessions, "ses-1",
             R"({"runId":"run-1","agent":"bot","role":"deployer","status":"active",)"
             R"("expiresAt":1700000900000})"),
      Upsert(Table::kObjects, "Role/deployer", R"({"kind":"Role","name":"deployer"})"),
      Upsert(Table::kAccessKeys, "AKIA1", R"({"principal":"agent:bot","status":"active"})")};
  ASSERT_TRUE(store->Commit(batch).ok());
  RawDb raw(path_);
  EXPECT_EQ(raw.Rows("SELECT run_id, agent, role, status, expires_at FROM sessions"),
            std::vector<std::string>{"run-1|bot|deployer|active|1700000900000"});
  EXPECT_EQ(raw.Rows("SELECT kind, name FROM objects"), std::vector<std::string>{"Role|deployer"});
  EXPECT_EQ(raw.Rows("SELECT principal, status FROM access_keys"),
            std::vector<std::string>{"agent:bot|active"});
  auto plan = [&](const std::string& sql) {
    std::string out;
    for (const std::string& row : raw.Rows("EXPLAIN QUERY PLAN " + sql)) out += row + "\n";
    return out;
  };
  EXPECT_NE(plan("SELECT id FROM sessions WHERE run_id = 'run-1'").find("sessions_run_id"),
            std::string::npos);
  EXPECT_NE(plan("SELECT id FROM sessions WHERE agent = 'bot'").find("sessions_agent"),
            std::string::npos);
  EXPECT_NE(plan("SELECT id FROM runs WHERE workflow = 'ci'").find("runs_workflow"),
            std::string::npos);
  EXPECT_NE(plan("SELECT id FROM approvals WHERE run_id = 'r'").find("approvals_run_id"),
            std::string::npos);
}

// Tamper tests edit the audit tables on purpose; the hash chain, not SQL, detects it.
TEST_F(SqliteStoreTest, AuditRowsCanBeEditedOutsideTheStore) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    Batch batch;
    batch.mutations = {Upsert(Table::kRuns, "run-1", "{}")};  // keeps the rows in audit_log
    batch.audit = {Audit(1), Audit(2), Audit(3)};
    ASSERT_TRUE(store->Commit(batch).ok());
  }
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.Exec("UPDATE audit_log SET body = '{\"n\":99}' WHERE seq = 2"), "");
    ASSERT_EQ(raw.Exec("DELETE FROM audit_log WHERE seq = 1"), "");
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto rows = store->ReadAudit(0, 0);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].seq, 2);
  EXPECT_EQ((*rows)[0].body, R"({"n":99})");
}

TEST_F(SqliteStoreTest, CommitsALargeBatch) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch batch;
  for (int i = 1; i <= 1000; ++i) {
    batch.audit.push_back(Audit(i));
    batch.mutations.push_back(Upsert(Table::kSessions, "ses-" + std::to_string(i),
                                     R"({"runId":"run-1","agent":"bot","role":"r"})"));
  }
  Status committed = store->Commit(batch);
  ASSERT_TRUE(committed.ok()) << committed.error().ToString();
  EXPECT_EQ(store->LoadTable(Table::kSessions)->size(), 1000u);
  EXPECT_EQ((*store->LastAudit())->seq, 1000);
}

TEST_F(SqliteStoreTest, ReadsSeeTheLastCommitWhileAnotherWriterHoldsTheLock) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch batch;
  batch.audit = {Audit(1)};
  ASSERT_TRUE(store->Commit(batch).ok());

  RawDb other(path_);
  ASSERT_EQ(other.Exec("BEGIN IMMEDIATE"), "");
  ASSERT_EQ(other.Exec("INSERT INTO audit_log VALUES (2, 0, 't', '{}', 'p', 'h')"), "");
  EXPECT_EQ(AuditSeqs(*store), (std::vector<std::int64_t>{1}));
  EXPECT_EQ((*store->LastAudit())->seq, 1);
  ASSERT_EQ(other.Exec("COMMIT"), "");
  EXPECT_EQ(AuditSeqs(*store), (std::vector<std::int64_t>{1, 2}));
}

TEST_F(SqliteStoreTest, ConcurrentReadersSeeConsistentCommittedState) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  constexpr std::int64_t kBatches = 300;
  std::atomic<bool> writing{true};
  std::atomic<int> failures{0};
  std::mutex first_failure_mutex;
  std::string first_failure;
  auto fail = [&](const std::string& what) {
    if (failures.fetch_add(1) == 0) {
      std::lock_guard lock(first_failure_mutex);
      first_failure = what;
    }
  };

  std::thread writer([&] {
    for (std::int64_t seq = 1; seq <= kBatches; ++seq) {
      Batch batch;
      batch.mutations = {Upsert(Table::kSessions, "ses-" + std::to_string(seq), "{}"),
                         Upsert(Table::kMeta, "last", std::to_string(seq))};
      batch.audit = {Audit(seq)};
      if (Status s = store->Commit(batch); !s.ok()) fail(s.error().ToString());
    }
    writing = false;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      std::int64_t seen = 0;
      do {
        auto rows = store->ReadAudit(0, 0);
        if (!rows.ok()) return fail(rows.error().ToString());
        for (std::size_t i = 0; i < rows->size(); ++i) {
          if ((*rows)[i].seq != static_cast<std::int64_t>(i) + 1) return fail("gap in audit");
        }
        auto n = static_cast<std::int64_t>(rows->size());
        if (n < seen) return fail("audit went backwards");
        seen = n;
        auto last = store->LastAudit();
        if (!last.ok()) return fail(last.error().ToString());
        if (last->has_value()) {
          std::int64_t seq = (*last)->seq;
          if (seq < seen) return fail("last audit behind");
          // Committed in the same batch as the audit row, so it must be visible too.
          auto session = store->Get(Table::kSessions, "ses-" + std::to_string(seq));
          if (!session.ok() || !session->has_value()) return fail("session of a visible batch");
          auto sessions = store->LoadTable(r == 0 ? Table::kSessions : Table::kMeta);
          if (!sessions.ok()) return fail(sessions.error().ToString());
          if (r == 0 && static_cast<std::int64_t>(sessions->size()) < seq) {
            return fail("fewer sessions than audit rows");
          }
        }
      } while (writing);
    });
  }
  writer.join();
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_EQ(AuditSeqs(*store).size(), static_cast<std::size_t>(kBatches));
  EXPECT_EQ(store->Get(Table::kMeta, "last")->value_or(""), std::to_string(kBatches));
}

bool ReadFull(int fd, void* data, std::size_t size) {
  auto* bytes = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = read(fd, bytes, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Batch i: two audit rows (2i+1, 2i+2); an even batch also adds a session and updates a shared
// document (its rows go to audit_log), an odd one is records only (they go to segment files).
Batch KillTestBatch(std::int64_t i) {
  Batch batch;
  if (i % 2 == 0) {
    batch.mutations = {Upsert(Table::kSessions, "ses-" + std::to_string(i), "{}"),
                       Upsert(Table::kRuns, "run-main", "{\"batch\":" + std::to_string(i) + "}")};
  }
  batch.audit = {Audit(2 * i + 1), Audit(2 * i + 2)};
  return batch;
}

TEST_F(SqliteStoreTest, AcknowledgedBatchesSurviveKill9) {
  constexpr std::int64_t kAcksBeforeKill = 300;
  int acks[2];
  ASSERT_EQ(pipe(acks), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child: commit batch after batch, acknowledging each once Commit has returned.
    close(acks[0]);
    auto store = OpenSqlite(path_);
    if (!store.ok()) _exit(2);
    for (std::int64_t i = 0; i < 10'000'000; ++i) {
      if (!(*store)->Commit(KillTestBatch(i)).ok()) _exit(3);
      if (write(acks[1], &i, sizeof i) != static_cast<ssize_t>(sizeof i)) _exit(4);
    }
    _exit(0);
  }
  close(acks[1]);
  std::int64_t last_acked = -1;
  std::int64_t ack = 0;
  while (last_acked + 1 < kAcksBeforeKill && ReadFull(acks[0], &ack, sizeof ack)) {
    ASSERT_EQ(ack, last_acked + 1);
    last_acked = ack;
  }
  kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with code " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  while (ReadFull(acks[0], &ack, sizeof ack)) last_acked = ack;  // acks still in the pipe
  close(acks[0]);
  ASSERT_GE(last_acked, kAcksBeforeKill - 1);

  auto store = Open();
  ASSERT_NE(store, nullptr);
  std::vector<std::int64_t> seqs = AuditSeqs(*store);
  auto committed = static_cast<std::int64_t>(seqs.size()) / 2;
  ASSERT_EQ(seqs.size() % 2, 0u) << "half a batch is visible";
  ASSERT_GE(committed, last_acked + 1) << "an acknowledged batch was lost";
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    ASSERT_EQ(seqs[i], static_cast<std::int64_t>(i) + 1);
  }
  auto sessions = store->LoadTable(Table::kSessions);
  ASSERT_TRUE(sessions.ok());
  EXPECT_EQ(static_cast<std::int64_t>(sessions->size()), (committed + 1) / 2);
  for (std::int64_t i = 0; i <= last_acked; i += 2) {
    auto session = store->Get(Table::kSessions, "ses-" + std::to_string(i));
    ASSERT_TRUE(session.ok());
    ASSERT_TRUE(session->has_value()) << "acknowledged batch " << i << " lost";
  }
  const std::int64_t last_even = (committed - 1) / 2 * 2;
  EXPECT_EQ(store->Get(Table::kRuns, "run-main")->value_or(""),
            "{\"batch\":" + std::to_string(last_even) + "}");
  RawDb raw(path_);
  EXPECT_EQ(raw.Rows("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

}  // namespace
}  // namespace xrole::store
