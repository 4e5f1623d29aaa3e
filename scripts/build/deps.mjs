// The system libraries h5vault builds against, with the package that provides
// each on the common package managers. Shared by check-deps, pkg-config and bootstrap.
export const PACKAGES = [
  { pkgconfig: 'hdf5', apt: 'libhdf5-dev', dnf: 'hdf5-devel', brew: 'hdf5', min: '1.10.5' },
  { pkgconfig: 'liblz4', apt: 'liblz4-dev', dnf: 'lz4-devel', brew: 'lz4' },
  { pkgconfig: 'libdeflate', apt: 'libdeflate-dev', dnf: 'libdeflate-devel', brew: 'libdeflate' },
  { pkgconfig: 'liblzf', apt: 'liblzf-dev', dnf: 'liblzf-devel', brew: 'liblzf' },
  { pkgconfig: 'libzstd', apt: 'libzstd-dev', dnf: 'libzstd-devel', brew: 'zstd' },
  { pkgconfig: 'blosc', apt: 'libblosc-dev', dnf: 'blosc-devel', brew: 'c-blosc' },
];

// The platforms with a prebuilt binary (prebuilds/<target>/, made by
// scripts/build/prebuild.mjs on x64 Debian 12, packed as @h5vault/<target>-gnu by
// scripts/build/pack-platform.mjs; scripts/check/pack.mjs refuses an h5vault whose
// optionalDependencies do not name all of them; lib/addon/locate.ts names them in its errors).
export const PREBUILT_TARGETS = ['linux-x64', 'linux-arm64'];

// Tools needed to build (not libraries).
export const BUILD_TOOLS = [
  { bin: 'pkg-config', apt: 'pkg-config', dnf: 'pkgconf-pkg-config', brew: 'pkg-config' },
  // node-gyp's own needs: a C++ compiler, make and Python.
  { bin: 'c++', apt: 'g++', dnf: 'gcc-c++' },
  { bin: 'make', apt: 'make', dnf: 'make' },
  { bin: 'python3', apt: 'python3', dnf: 'python3' },
];

// Interop peers used by the test suite (Debian names).
export const PEER_PACKAGES = [
  // clang-format for npm run lint (scripts/check/lint.sh): C++ formatting is checked by npm test.
  'clang-format-14',
  'python3-h5py',
  'python3-numpy',
  'hdf5-tools',
  'hdf5-plugin-lzf',
  'python3-hdf5plugin',
  'hdf5-filter-plugin',
  // Zstandard (no Debian HDF5 plugin: chunks are built/checked with python3-zstandard).
  'python3-zstandard',
  // Blosc (32001) and Bitshuffle (32008) HDF5 plugins: the reference filters for interop.
  'hdf5-filter-plugin-blosc-serial',
  'bitshuffle',
  // The ONNX Runtime end-to-end tests build real networks with torch and export them with onnx.
  'python3-torch',
  'python3-onnx',
];

// The S3 server the object-storage tests run against (scripts/s3-cluster.sh): a real
// single-node Ceph cluster with radosgw, from Debian's packages.
export const S3_PACKAGES = ['ceph-mon', 'ceph-osd', 'radosgw'];
