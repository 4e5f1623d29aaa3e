// The untrusted-file metadata walk (architecture.md, invariant 9). Plain C++
// over libhdf5, no napi: run by the walk child process (dist/walk-child.js via
// the addon) and by the libFuzzer harness test/fuzz/fuzz_walk.cc.
//
// It touches everything the parent will touch after a successful walk —
// superblock, every object header reachable through links, every link, every
// attribute (type, space, and the value when small), every datatype and
// dataspace, every filter pipeline and every chunk index — and rejects what
// h5vault will not open from a stranger: external links, external raw storage,
// virtual datasets, filters outside the allow-list, declared sizes over
// limits, shape bombs and deep nesting. libhdf5 itself may still crash or hang
// on a hostile file while doing this; containing that is the child process's
// job (lib/untrusted.ts), not this code's.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <hdf5.h>

namespace h5v::h5 {

struct WalkLimits {
  uint64_t max_dataset_bytes = uint64_t(16) << 30;   // bytes one dataset's stored data decodes to
  uint64_t max_attribute_bytes = uint64_t(1) << 20;  // declared and decoded bytes per attribute
  uint64_t max_vlen_bytes = uint64_t(256) << 20;     // decoded variable-length string bytes per dataset
  uint64_t max_chunk_bytes = uint64_t(256) << 20;    // one chunk, uncompressed (libhdf5 allocates it whole)
  double max_expansion = 1000;                       // declared / stored bytes ("shape bomb")
  uint64_t expansion_floor = uint64_t(1) << 20;      // datasets declaring less are never bombs
  uint32_t max_depth = 32;                           // group nesting below the root
  uint64_t max_objects = 100000;                     // objects (groups, datasets, named types)
  uint64_t max_links = 1000000;                      // links, all groups together
  uint64_t max_attributes = 100000;                  // attributes, all objects together
  uint64_t max_chunks = uint64_t(1) << 20;           // chunk grid slots per dataset
  std::vector<int> allowed_filters = {
      1, 2, 3, 4, 32000, 32001, 32004, 32008, 32015};  // deflate shuffle fletcher32 szip lzf blosc lz4 bitshuffle zstd
};

struct FileStamp {
  bool valid = false;
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
};

struct WalkReport {
  bool ok = false;
  // On rejection: a stable reason ('external-link', 'filter', 'shape-bomb',
  // 'corrupt', ... see docs/security.md), a human-readable detail, the object
  // path in the file, and for libhdf5 failures the H5Error code it mapped to.
  std::string reason;
  std::string detail;
  std::string object;
  std::string code;
  // What was walked (also filled, up to the failure point, on rejection).
  uint64_t groups = 0, datasets = 0, datatypes = 0, links = 0, soft_links = 0;
  uint64_t attributes = 0, attributes_read = 0, chunks = 0;
  uint32_t depth = 0;
  uint64_t declared_bytes = 0, stored_bytes = 0;
  uint64_t file_size = 0;
  FileStamp stamp;  // fstat of the descriptor libhdf5 read (sec2 files only)
};

// Identity of the descriptor libhdf5 holds for an open sec2 file (lock held).
bool file_stamp(hid_t fid, FileStamp* out);

// Walks the file at `path` with the sec2 driver, as File.open would open it.
WalkReport walk_file(const std::string& path, const WalkLimits& limits);

// Walks an in-memory file image (core driver, no disk I/O): for fuzzing.
WalkReport walk_image(const void* data, size_t size, const WalkLimits& limits);

}  // namespace h5v::h5
