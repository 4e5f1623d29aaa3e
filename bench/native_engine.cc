// Micro-benchmark: engine::read / engine::write vs libhdf5's serial path
// (H5Dread / H5Dwrite, what h5py does) on float32 ~ N(0, 0.02).
// Build and run with `bash bench/native.sh native_engine`. Prints a markdown table of
// medians. Env: H5V_BENCH_MIB (default 256), H5V_BENCH_REPS (default 5),
// H5V_BENCH_DIR (default /dev/shm, else /tmp), H5V_BENCH_QUICK=1 (1 MiB chunks only).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <hdf5.h>

#include "engine/chunk_index.h"
#include "engine/engine.h"
#include "filters/register.h"
#include "common/error.h"
#include "common/lock.h"

using namespace h5v;

namespace {

size_t env_num(const char* name, size_t def) {
  const char* v = std::getenv(name);
  return v && *v ? size_t(std::strtoull(v, nullptr, 10)) : def;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double time_ms(const std::function<void()>& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

struct Codec {
  const char* name;
  void (*apply)(hid_t dcpl);
};

const Codec kCodecs[] = {
    {"gzip-1+shuffle",
     [](hid_t p) {
       H5Pset_shuffle(p);
       H5Pset_deflate(p, 1);
     }},
    {"gzip-4+shuffle",
     [](hid_t p) {
       H5Pset_shuffle(p);
       H5Pset_deflate(p, 4);
     }},
    {"lz4+shuffle",
     [](hid_t p) {
       H5Pset_shuffle(p);
       H5Pset_filter(p, filters::kFilterLz4, H5Z_FLAG_OPTIONAL, 0, nullptr);
     }},
    {"lzf+shuffle",
     [](hid_t p) {
       H5Pset_shuffle(p);
       H5Pset_filter(p, filters::kFilterLzf, H5Z_FLAG_OPTIONAL, 0, nullptr);
     }},
    {"uncompressed", [](hid_t) {}},
};

hid_t create_dataset(hid_t f, const char* name, hsize_t n, hsize_t chunk, const Codec& c) {
  h5::Lock l;
  hid_t space = H5Screate_simple(1, &n, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, &chunk);
  c.apply(dcpl);
  hid_t d = H5Dcreate2(f, name, H5T_NATIVE_FLOAT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Pclose(dcpl);
  H5Sclose(space);
  return d;
}

void die(const char* what, const h5::ErrorInfo& e) {
  std::fprintf(stderr, "%s: %s %s\n", what, e.code.c_str(), e.message.c_str());
  std::exit(1);
}

}  // namespace

int main() {
  {
    h5::Lock l;
    h5::silence_error_printing();
    filters::register_builtin_filters();
  }
  const size_t mib = env_num("H5V_BENCH_MIB", 256);
  const size_t reps = env_num("H5V_BENCH_REPS", 5);
  const bool quick = env_num("H5V_BENCH_QUICK", 0) != 0;
  const char* dir_env = std::getenv("H5V_BENCH_DIR");
  // tmpfs by default: writes then measure the codecs, not disk writeback.
  const std::string dir = dir_env && *dir_env ? dir_env : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
  const hsize_t n = hsize_t(mib) << 18;  // float32 elements
  std::vector<float> data(n);
  {
    uint64_t s = 42;
    auto u = [&] {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      return (double((s >> 11) + 1)) / 9007199254740993.0;
    };
    for (hsize_t i = 0; i < n; i += 2) {
      double r = std::sqrt(-2 * std::log(u())), t = 2 * M_PI * u();
      data[i] = float(0.02 * r * std::cos(t));
      if (i + 1 < n) data[i + 1] = float(0.02 * r * std::sin(t));
    }
  }
  const double bytes = double(n) * 4;
  std::vector<float> out(n);
  std::vector<size_t> chunk_kib = quick ? std::vector<size_t>{1024} : std::vector<size_t>{64, 1024, 8192};
  std::printf("%zu MiB float32 ~ N(0, 0.02), %zu reps (median), pool %u threads, libhdf5 %s\n\n", mib, reps,
              engine::pool_size(), H5_VERS_INFO);
  {
    // How much parallel CPU is actually available right now (shared machine).
    auto spin = [](int parts) {
      auto t0 = std::chrono::steady_clock::now();
      std::vector<std::thread> ts;
      for (int p = 0; p < parts; ++p)
        ts.emplace_back([] {
          volatile uint64_t x = 1;
          for (uint64_t i = 0; i < 300000000ull; ++i) x = x * 3 + i;
        });
      for (auto& t : ts) t.join();
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    double one = spin(1), two = spin(2);
    std::printf(
        "CPU probe: the same work on 2 threads took %.2fx the time of 1 thread "
        "(1.0 = two free cores, 2.0 = one)\n\n",
        two / one);
  }
  std::printf("| op | codec | chunk | ratio | libhdf5 MB/s | engine 1t MB/s | engine 2t MB/s | 1t x | 2t x |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (size_t ck : chunk_kib) {
    for (const Codec& c : kCodecs) {
      bool do_write = std::strcmp(c.name, "gzip-1+shuffle") == 0 || std::strcmp(c.name, "lz4+shuffle") == 0;
      if (!quick && ck != 1024 && std::strcmp(c.name, "gzip-4+shuffle") == 0) continue;
      std::string path = dir + "/h5v_bench_" + std::to_string(getpid()) + ".h5";
      hsize_t chunk = hsize_t(ck) * 256;
      // --- writes, interleaved per rep (libhdf5, engine 1t, engine 2t) so
      // that background load hits all three alike. The last libhdf5 write
      // produces the file the reads use.
      std::vector<double> tw_lib, tw1, tw2;
      hid_t f;
      auto engine_write = [&](unsigned t) {
        {
          h5::Lock l;
          f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        }
        hid_t dw = create_dataset(f, "w", n, chunk, c);
        engine::Options opt;
        opt.threads = t;
        h5::ErrorInfo err;
        double ms = time_ms([&] {
          if (engine::write(dw, H5T_NATIVE_FLOAT, {}, data.data(), bytes, opt, &err) != engine::Result::Done)
            die("engine::write", err);
          h5::Lock l;
          H5Dclose(dw);
          H5Fflush(f, H5F_SCOPE_LOCAL);
        });
        (t == 1 ? tw1 : tw2).push_back(ms);
        h5::Lock l;
        H5Fclose(f);
        f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        dw = H5Dopen2(f, "w", H5P_DEFAULT);
        std::fill(out.begin(), out.end(), 0.f);
        H5Dread(dw, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
        H5Dclose(dw);
        H5Fclose(f);
        if (std::memcmp(out.data(), data.data(), bytes) != 0) {
          std::fprintf(stderr, "engine write mismatch for %s\n", c.name);
          std::exit(1);
        }
      };
      for (size_t r = 0; r < (do_write ? reps : 1); ++r) {
        if (do_write) {
          engine_write(1);
          engine_write(2);
        }
        {
          h5::Lock l;
          f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        }
        hid_t d = create_dataset(f, "w", n, chunk, c);
        tw_lib.push_back(time_ms([&] {
          h5::Lock l;
          H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
          H5Dclose(d);
          H5Fflush(f, H5F_SCOPE_LOCAL);
        }));
        h5::Lock l;
        H5Fclose(f);
      }
      double ratio;
      {
        h5::Lock l;
        f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t d = H5Dopen2(f, "w", H5P_DEFAULT);
        ratio = bytes / double(H5Dget_storage_size(d));
        H5Dclose(d);
        H5Fclose(f);
      }
      // --- reads (file open read-only, so the engine uses pread when addressed)
      std::vector<double> tr_lib, tr1, tr2;
      double index_ms = 0;
      {
        h5::Lock l;
        f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
      }
      hid_t d;
      {
        h5::Lock l;
        d = H5Dopen2(f, "w", H5P_DEFAULT);
      }
      for (size_t r = 0; r < reps; ++r) {
        tr_lib.push_back(time_ms([&] {
          h5::Lock l;
          H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
        }));
        for (unsigned t : {1u, 2u}) {
          engine::Options opt;
          opt.threads = t;
          h5::ErrorInfo err;
          double ms = time_ms([&] {
            if (engine::read(d, H5T_NATIVE_FLOAT, {}, out.data(), out.size() * 4, opt, &err) != engine::Result::Done)
              die("engine::read", err);
          });
          (t == 1 ? tr1 : tr2).push_back(ms);
        }
      }
      {
        h5::ErrorInfo err;
        auto idx = engine::ChunkIndex::get(d, &err);
        index_ms = idx ? idx->build_ms() : 0;
      }
      if (std::memcmp(out.data(), data.data(), bytes) != 0) {
        std::fprintf(stderr, "engine read mismatch for %s\n", c.name);
        return 1;
      }
      {
        h5::Lock l;
        H5Dclose(d);
        H5Fclose(f);
      }
      engine::ChunkIndex::forget_file(-1);
      auto mbs = [&](double ms) { return bytes / 1e6 / (ms / 1e3); };
      std::printf("| read | %s | %zu KiB | %.2f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", c.name, ck, ratio,
                  mbs(median(tr_lib)), mbs(median(tr1)), mbs(median(tr2)), median(tr_lib) / median(tr1),
                  median(tr_lib) / median(tr2));
      std::fflush(stdout);
      (void)index_ms;
      if (do_write) {
        std::printf("| write | %s | %zu KiB | %.2f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", c.name, ck, ratio,
                    mbs(median(tw_lib)), mbs(median(tw1)), mbs(median(tw2)), median(tw_lib) / median(tw1),
                    median(tw_lib) / median(tw2));
        std::fflush(stdout);
      }
      std::remove(path.c_str());
    }
  }
  engine::shutdown_pool();
  return 0;
}
