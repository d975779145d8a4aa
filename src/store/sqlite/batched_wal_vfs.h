// BatchedWalVfs: SQLite's own file access, with each transaction's WAL
// frames handed to the kernel in one write.
//
// SQLite writes every WAL frame with two calls (its 24-byte header, then the
// page), so a commit of 200 pages costs 400 pwrite system calls, each paying
// the kernel's entry and exit on top of the copy. A connection opened with
// this VFS collects the frames a transaction appends and writes them with
// one call when the transaction's commit frame is complete, and before any
// sync, read, size query, truncation or close of the WAL. Everything else
// (the database file, its shared memory, locking, sync) is SQLite's default
// VFS unchanged.
//
// No other connection can see the collected frames early or late: SQLite
// publishes a commit in the WAL index only after its frames were written (and
// synced, under synchronous=FULL), and the collected frames are written by
// then. A failed write discards them and fails the transaction, as a failed
// write of SQLite's own would.
#pragma once

namespace tokend::store::sqlite {

// Registers the VFS, over SQLite's default one, on the first call; returns
// its name, to pass to sqlite3_open_v2, or null (SQLite's default VFS) when
// it could not be registered. Thread-safe.
const char* BatchedWalVfs();

}  // namespace tokend::store::sqlite
