// native/h5/structure.h: resizable datasets read back by the parallel engine
// exactly as H5Dread reads them, over every chunk index libhdf5 1.10 writes
// for extendible datasets (v1 B-tree; with libver latest, extensible array
// for one unlimited dimension and v2 B-tree for two), plus the resize
// refusals and in-memory images.
#include <unistd.h>

#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "check.h"
#include "h5_setup.h"
#include "engine/engine.h"
#include "h5/dataset.h"
#include "h5/file.h"
#include "h5/structure.h"

using namespace h5v;

namespace {

struct Layout {
  const char* name;
  bool latest;
  std::vector<hsize_t> maxshape;
  H5D_chunk_index_t index;
};

std::vector<float> h5_read_all(hid_t d, size_t n) {
  std::vector<float> out(n);
  h5::Lock l;
  CHECK(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0);
  return out;
}

std::vector<float> engine_read(hid_t d, const engine::Selection& sel, size_t n, unsigned threads) {
  std::vector<float> out(n);
  engine::Options opt;
  opt.threads = threads;
  h5::ErrorInfo err;
  CHECK(engine::read(d, H5T_NATIVE_FLOAT, sel, out.data(), n * 4, opt, &err) == engine::Result::Done);
  return out;
}

}  // namespace

TEST(resize_then_engine_reads_match_h5dread_on_every_chunk_index) {
  const hsize_t U = H5S_UNLIMITED;
  std::vector<Layout> layouts = {
      {"v1-btree", false, {U, 6}, H5D_CHUNK_IDX_BTREE},
      {"extensible-array", true, {U, 6}, H5D_CHUNK_IDX_EARRAY},
      {"v2-btree", true, {U, U}, H5D_CHUNK_IDX_BT2},
  };
  for (const auto& lay : layouts) {
    std::string path = std::string("structure_") + lay.name + "_" + std::to_string(getpid()) + ".h5";
    hid_t f, d;
    {
      h5::Lock l;
      hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
      if (lay.latest) H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
      f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
      H5Pclose(fapl);
      CHECK(f >= 0);
      h5::CreateSpec spec;
      spec.dtype = h5::DType::Float32;
      spec.shape = {4, 6};
      spec.maxshape = lay.maxshape;
      spec.chunks = {3, 4};
      spec.compression = "gzip";
      spec.shuffle = true;
      h5::ErrorInfo err;
      d = h5::create_dataset(f, "x", spec, &err);
      CHECK(d >= 0);
      std::vector<float> first(24);
      std::iota(first.begin(), first.end(), 1.0f);
      CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, first.data()) >= 0);
      CHECK(h5::resize_dataset(d, "/x", {11, 6}, &err));
      H5D_chunk_index_t idx;
      // The index type is what the case is about: check libhdf5 chose it.
      CHECK(H5Dget_chunk_index_type(d, &idx) >= 0);
      CHECK(idx == lay.index);
    }
    // Rows 4..10 through the engine's writer (whole-chunk rows 6..8 included).
    std::vector<float> more(7 * 6);
    for (size_t i = 0; i < more.size(); ++i) more[i] = -float(i) - 0.5f;
    engine::Options opt;
    h5::ErrorInfo err;
    engine::Selection rows{{4, 0}, {7, 6}, {}};
    engine::Result w = engine::write(d, H5T_NATIVE_FLOAT, rows, more.data(), more.size() * 4, opt, &err);
    if (w == engine::Result::Unsupported) {  // partial chunks: the serial path, as the addon does
      h5::Lock l;
      CHECK(h5::write_numeric(d, h5::DType::Float32, rows, more.data(), &err));
    } else {
      CHECK(w == engine::Result::Done);
    }
    {
      h5::Lock l;
      H5Dclose(d);
      H5Fclose(f);
      f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
      d = H5Dopen2(f, "x", H5P_DEFAULT);
      CHECK(d >= 0);
    }
    std::vector<float> want = h5_read_all(d, 66);
    CHECK(want[0] == 1.0f && want[23] == 24.0f && want[24] == -0.5f && want[65] == -41.5f);
    CHECK(engine_read(d, {}, 66, 1) == want);
    CHECK(engine_read(d, {}, 66, 4) == want);
    // A hyperslab across the old/new boundary.
    engine::Selection part{{2, 1}, {5, 4}, {}};
    std::vector<float> got = engine_read(d, part, 20, 4);
    for (hsize_t r = 0; r < 5; ++r)
      for (hsize_t c = 0; c < 4; ++c) CHECK(got[r * 4 + c] == want[(r + 2) * 6 + c + 1]);
    {
      h5::Lock l;
      H5Dclose(d);
      H5Fclose(f);
    }
    unlink(path.c_str());
  }
}

TEST(resize_refusals_are_typed) {
  std::string path = "structure_refuse_" + std::to_string(getpid()) + ".h5";
  h5::Lock l;
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  h5::CreateSpec fixed;
  fixed.shape = {4};
  h5::ErrorInfo err;
  hid_t a = h5::create_dataset(f, "fixed", fixed, &err);
  CHECK(!h5::resize_dataset(a, "/fixed", {5}, &err));
  CHECK(err.code == "H5_NOT_RESIZABLE");
  h5::CreateSpec bounded;
  bounded.shape = {2, 2};
  bounded.maxshape = {4, 2};
  hid_t b = h5::create_dataset(f, "bounded", bounded, &err);
  CHECK(b >= 0);
  err = {};
  CHECK(!h5::resize_dataset(b, "/bounded", {5, 2}, &err));
  CHECK(err.code == "H5_NOT_RESIZABLE");
  err = {};
  CHECK(!h5::resize_dataset(b, "/bounded", {3}, &err));
  CHECK(err.kind == h5::ErrorKind::Range);
  CHECK(h5::resize_dataset(b, "/bounded", {4, 1}, &err));
  std::vector<hsize_t> dims, maxdims;
  CHECK(h5::dataset_extent(b, &dims, &maxdims, &err));
  CHECK((dims == std::vector<hsize_t>{4, 1}) && (maxdims == std::vector<hsize_t>{4, 2}));
  // Chunks picked for a growing dimension: at least 1024 entries of room.
  CHECK((h5::resizable_chunks({0}, {H5S_UNLIMITED}, 4) == std::vector<hsize_t>{1024}));
  CHECK((h5::resizable_chunks({0, 3}, {100, 3}, 4) == std::vector<hsize_t>{100, 3}));
  H5Dclose(a);
  H5Dclose(b);
  H5Fclose(f);
  unlink(path.c_str());
}

TEST(image_round_trip_and_sealed_bytes) {
  h5::ErrorInfo err;
  std::vector<uint8_t> bytes;
  {
    auto mem = h5::FileHandle::create_in_memory(false, &err);
    CHECK(mem != nullptr);
    h5::Lock l;
    h5::CreateSpec spec;
    spec.dtype = h5::DType::Int32;
    spec.shape = {3};
    hid_t d = h5::create_dataset(mem->id(), "x", spec, &err);
    int v[3] = {4, 5, 6};
    CHECK(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    CHECK(h5::file_image(mem->id(), &bytes, &err));
    mem->close();
  }
  CHECK(bytes.size() > 8 && std::memcmp(bytes.data(), "\x89HDF\r\n\x1a\n", 8) == 0);
  auto img = h5::FileHandle::open_image("img", bytes.data(), bytes.size(), &err);
  CHECK(img != nullptr);
  bytes.assign(bytes.size(), 0);  // the open file has its own sealed copy
  {
    h5::Lock l;
    hid_t d = H5Dopen2(img->id(), "x", H5P_DEFAULT);
    int got[3] = {0, 0, 0};
    CHECK(H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, got) >= 0);
    CHECK(got[0] == 4 && got[2] == 6);
    H5Dclose(d);
  }
  // Nothing can write the image's memory file.
  CHECK(img->image_fd() >= 0);
  CHECK(::pwrite(img->image_fd(), "x", 1, 0) < 0);
  img->close();
}

H5V_TEST_MAIN()
