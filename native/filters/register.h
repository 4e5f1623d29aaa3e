// H5Z filter classes for LZF (32000), Blosc (32001), LZ4 (32004), Bitshuffle (32008) and Zstandard (32015),
// built on native/codecs.
// Registered once at addon load; compatible with h5py's lzf_filter.c and
// hdf5plugin's LZ4 and Zstd filters, hdf5-blosc, bitshuffle (cd_values and on-disk bytes).
#pragma once
#include <string>

#include <hdf5.h>

namespace h5v::filters {

constexpr int kFilterLzf = 32000;
constexpr int kFilterLz4 = 32004;
constexpr int kFilterZstd = 32015;
constexpr int kFilterBlosc = 32001;
constexpr int kFilterBitshuffle = 32008;

// Registers these filters with libhdf5 (caller holds the global HDF5 lock).
// Returns false if H5Zregister failed.
bool register_builtin_filters();

// How a filter callback says why it failed: libhdf5 takes only 0 for failure
// from it, so the reason goes on libhdf5's error stack (class PLINE, minor
// code `minor`, function `func`), where capture_error() finds it.
void push_filter_error(const char* func, hid_t minor, const std::string& msg);

}  // namespace h5v::filters
