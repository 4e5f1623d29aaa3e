// Cost of building the chunk index (native/engine/chunk_index.h) for 1024
// chunks, per index type: median of 7 ChunkIndex::build() calls on a
// read-only file. Usage: bash bench/native.sh chunk_index_build
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <hdf5.h>

#include "engine/chunk_index.h"
#include "common/error.h"
#include "common/lock.h"

using namespace h5v;

namespace {

struct Case {
  const char* name;
  bool latest;
  bool unlimited_second;  // maxdims (1, UNLIMITED): extensible array, unlimited dim not first
};

void make(const std::string& path, const Case& c, hsize_t nchunks) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (c.latest) H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  hsize_t dims[2] = {1, nchunks * 16}, maxd[2] = {1, c.unlimited_second ? H5S_UNLIMITED : nchunks * 16};
  hsize_t chunk[2] = {1, 16};
  hid_t space = H5Screate_simple(2, dims, maxd);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 2, chunk);
  H5Pset_deflate(dcpl, 1);
  hid_t d = H5Dcreate2(f, "d", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  std::vector<float> v(nchunks * 16);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i % 97);
  H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Fclose(f);
  H5Pclose(fapl);
}

}  // namespace

int main() {
  {
    h5::Lock l;
    h5::silence_error_printing();
  }
  const hsize_t n = 1024;
  const Case cases[] = {{"v1 B-tree (libver earliest)", false, false},
                        {"fixed array (libver latest)", true, false},
                        {"extensible array, unlimited dim 1 (latest)", true, true}};
  std::printf("index build for %llu chunks (median of 7, ms)\n", (unsigned long long)n);
  for (const Case& c : cases) {
    std::string path = "/tmp/h5v-bench-index.h5";
    make(path, c, n);
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "d", H5P_DEFAULT);
    std::vector<double> ms;
    bool pread = false;
    for (int i = 0; i < 7; ++i) {
      h5::ErrorInfo err;
      auto idx = engine::ChunkIndex::build(d, &err);
      if (!idx) {
        std::printf("%s: build failed: %s\n", c.name, err.message.c_str());
        return 1;
      }
      ms.push_back(idx->build_ms());
      pread = idx->addressed();
    }
    std::sort(ms.begin(), ms.end());
    std::printf("  %-45s %8.2f ms  (addressed: %s)\n", c.name, ms[3], pread ? "yes" : "no");
    H5Dclose(d);
    H5Fclose(f);
    std::remove(path.c_str());
  }
  return 0;
}
