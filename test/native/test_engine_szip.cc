// szip in the engine: differential test of engine::read against H5Dread
// (libhdf5's own szip filter) over the datasets szip_layouts.py writes with
// h5py — nn and ec coding, pixels per block 2..32, 1/2/4/8-byte types in
// both byte orders, partial edge chunks, szip between shuffle and
// fletcher32 — read whole and through strided hyperslabs; the engine must
// decode every one of them itself (Result::Done) and produce the same bytes.
// Plus the codec's answers for damaged payloads. The layouts come from real
// h5py at test time: a missing peer is a failure.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <hdf5.h>

#include "check.h"
#include "codecs/szip.h"
#include "common/error.h"
#include "common/lock.h"
#include "engine/engine.h"
#include "h5_read.h"
#include "h5_setup.h"

using namespace h5v;
using Bytes = std::vector<uint8_t>;
using h5v::test::libhdf5_read;
using h5v::test::open_dataset;

namespace {

std::string source_dir() {
  std::string f = __FILE__;
  return f.substr(0, f.rfind('/'));
}

const std::string& layout_file() {
  static const std::string path = [] {
    char tmpl[] = "/tmp/h5v-szip-XXXXXX";
    std::string d = mkdtemp(tmpl);
    const char* py = std::getenv("H5VAULT_PYTHON");
    std::string cmd = std::string(py ? py : "/usr/bin/python3") + " " + source_dir() + "/szip_layouts.py " + d +
                      "/szip.h5 > " + d + "/count.txt";
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "szip layout generator failed: %s\n", cmd.c_str());
      ++::h5v::test::failures();
    }
    return d + "/szip.h5";
  }();
  return path;
}

herr_t collect(hid_t, const char* name, const H5L_info_t*, void* op) {
  static_cast<std::vector<std::string>*>(op)->push_back(name);
  return 0;
}

}  // namespace

TEST(szip_decoder_is_libhdf5s) { CHECK(codecs::szip_available()); }

TEST(engine_decodes_every_szip_layout_like_H5Dread) {
  hid_t f;
  std::vector<std::string> names;
  {
    h5::Lock l;
    f = H5Fopen(layout_file().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    if (f < 0) return;
    H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names);
  }
  CHECK(names.size() >= 300);
  int reads = 0, done = 0, mismatches = 0;
  for (const auto& name : names) {
    auto [dset, type, es, dims] = open_dataset(f, name.c_str());
    std::vector<engine::Selection> sels(1);  // whole
    engine::Selection s;                     // strided, starting mid-chunk
    for (hsize_t d : dims) {
      s.start.push_back(d / 3);
      s.step.push_back(2);
      s.count.push_back((d - d / 3 + 1) / 2);
    }
    sels.push_back(s);
    for (const auto& sel : sels) {
      size_t n = 1;
      for (auto d : sel.start.empty() ? dims : sel.count) n *= d;
      Bytes mine(n * es, 0xA5), ref(n * es, 0x5A);
      ++reads;
      h5::ErrorInfo err;
      engine::Result r = engine::read(dset, type, sel, mine.data(), mine.size(), engine::Options{}, &err);
      CHECK(libhdf5_read(dset, type, dims, sel, ref.data()));
      if (r != engine::Result::Done) {
        std::fprintf(stderr, "%s: engine %s %s %s\n", name.c_str(),
                     r == engine::Result::Unsupported ? "left it to libhdf5" : "failed", err.code.c_str(),
                     err.message.c_str());
        continue;
      }
      ++done;
      if (mine != ref) {
        ++mismatches;
        std::fprintf(stderr, "%s (%s): engine and H5Dread differ\n", name.c_str(),
                     sel.start.empty() ? "whole" : "strided");
      }
    }
    h5::Lock l;
    H5Tclose(type);
    H5Dclose(dset);
  }
  {
    h5::Lock l;
    H5Fclose(f);
  }
  std::printf("szip: %zu datasets, %d reads, %d by the engine, %d mismatches\n", names.size(), reads, done, mismatches);
  CHECK_EQ(done, reads);
  CHECK_EQ(mismatches, 0);
}

TEST(szip_decode_rejects_damaged_payloads) {
  codecs::SzipParams p;
  p.options_mask = 1 | 16 | 32 | 128;
  p.pixels_per_block = 8;
  p.bits_per_pixel = 32;
  p.pixels_per_scanline = 64;
  Bytes out(256);
  size_t got = 0;
  const uint8_t tiny[3] = {1, 0, 0};
  CHECK(codecs::szip_decode(p, tiny, sizeof tiny, out.data(), out.size(), &got) == codecs::Status::Corrupt);
  // The header names more bytes than the chunk holds.
  const uint8_t big[8] = {0, 0, 0, 1, 0, 0, 0, 0};
  CHECK(codecs::szip_decode(p, big, sizeof big, out.data(), out.size(), &got) == codecs::Status::OutputTooSmall);
  // A stream too short for the size its header names.
  const uint8_t short_stream[6] = {0, 1, 0, 0, 0xff, 0x00};
  CHECK(codecs::szip_decode(p, short_stream, sizeof short_stream, out.data(), out.size(), &got) != codecs::Status::Ok);
  // Parameters libaec rejects.
  codecs::SzipParams bad = p;
  bad.bits_per_pixel = 0;
  const uint8_t hdr[8] = {16, 0, 0, 0, 0, 0, 0, 0};
  CHECK(codecs::szip_decode(bad, hdr, sizeof hdr, out.data(), out.size(), &got) != codecs::Status::Ok);
}

H5V_TEST_MAIN()
