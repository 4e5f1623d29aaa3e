#!/usr/bin/env python3
"""Writes the small seed corpora for the fuzzers under test/fuzz/corpus/<fuzzer>/.

Standard library only: LZF and LZ4 streams come from the tiny greedy encoders
below (valid streams, not byte-identical to liblzf / liblz4 output), deflate
from zlib. The zstd seeds come from the zstd CLI (Debian's zstd package, the
same libzstd h5vault links), the Blosc seeds from libblosc via ctypes, the
Bitshuffle seeds from Debian's bitshuffle module (the reference's own LZ4
chunks; zstd chunks from its transpose + the zstd CLI). Those seeds are output
of kiyo-masui/bitshuffle (MIT licence, Copyright (c) 2014 Kiyoshi Masui) run on
the samples below; no bitshuffle code is in this repository. Deterministic: rerunning produces the same files.
    python3 test/fuzz/make_corpus.py
"""
import math
import os
import random
import struct
import subprocess
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def samples():
    rnd = random.Random(1234)
    floats = b"".join(struct.pack("<f", math.floor(math.sin(i * 0.01) * 64) / 256) for i in range(600))
    return [
        b"",
        b"a",
        b"abcabcabcabcabcabcabcabcabcabcabc",
        b"\0" * 700,
        bytes(rnd.randrange(256) for _ in range(300)),
        floats,
        b"model.layers.0.attention.wq.weight " * 20,
    ]


def lzf_compress(data):
    out, lit, i, n, table = bytearray(), bytearray(), 0, len(data), {}

    def flush():
        while lit:
            run = lit[:32]
            out.append(len(run) - 1)
            out.extend(run)
            del lit[:32]

    while i < n:
        key = data[i:i + 3]
        ref = table.get(key) if len(key) == 3 else None
        table[key] = i
        if ref is not None and 0 < i - ref <= 8192:
            length = 3
            while i + length < n and length < 264 and data[ref + length] == data[i + length]:
                length += 1
            flush()
            off, l2 = i - ref - 1, length - 2
            if l2 < 7:
                out.append((l2 << 5) | (off >> 8))
            else:
                out.append((7 << 5) | (off >> 8))
                out.append(l2 - 7)
            out.append(off & 0xFF)
            i += length
        else:
            lit.append(data[i])
            i += 1
    flush()
    return bytes(out)


def lz4_block(data):
    out, n, i, anchor, table = bytearray(), len(data), 0, 0, {}

    def lenbytes(v):
        b = bytearray()
        while v >= 255:
            b.append(255)
            v -= 255
        b.append(v)
        return b

    while i + 12 <= n:
        key = data[i:i + 4]
        ref = table.get(key)
        table[key] = i
        if ref is not None and i - ref <= 65535:
            length = 4
            while i + length < n - 5 and data[ref + length] == data[i + length]:
                length += 1
            lits = data[anchor:i]
            ml = length - 4
            out.append((min(len(lits), 15) << 4) | min(ml, 15))
            if len(lits) >= 15:
                out += lenbytes(len(lits) - 15)
            out += lits
            out += struct.pack("<H", i - ref)
            if ml >= 15:
                out += lenbytes(ml - 15)
            i += length
            anchor = i
        else:
            i += 1
    lits = data[anchor:]
    out.append(min(len(lits), 15) << 4)
    if len(lits) >= 15:
        out += lenbytes(len(lits) - 15)
    out += lits
    return bytes(out)


def lz4_frame(data, block):
    bs = min(block, len(data))
    out = bytearray(struct.pack(">QI", len(data), bs))
    for pos in range(0, len(data), bs or 1):
        chunk = data[pos:pos + bs]
        comp = lz4_block(chunk)
        if len(comp) >= len(chunk):
            comp = chunk
        out += struct.pack(">I", len(comp)) + comp
    return bytes(out)


def zstd_frame(data, level, streamed=False):
    # --no-content-size only applies to streamed input: pipe it through stdin.
    args = ["zstd", "-q", "-c", f"-{level}", "--no-check"] + (["--no-content-size"] if streamed else [])
    return subprocess.run(args, input=data, stdout=subprocess.PIPE, check=True).stdout


def blosc_buffer(data, typesize, shuffle, compressor):
    # libblosc itself (Debian's libblosc1, what h5vault links), through ctypes.
    import ctypes
    lib = ctypes.CDLL("libblosc.so.1")
    dst = ctypes.create_string_buffer(len(data) + 16)
    n = lib.blosc_compress_ctx(5, shuffle, ctypes.c_size_t(typesize), ctypes.c_size_t(len(data)), data, dst,
                               ctypes.c_size_t(len(data) + 16), compressor, ctypes.c_size_t(0), 1)
    assert n > 0
    return dst.raw[:n]


def bitshuffle_chunk(data, elem, compressor):
    # The reference filter's chunk for data (a whole number of elements): the
    # 12-byte header, then for LZ4 bitshuffle.compress_lz4's blocks (the
    # reference's own code); for zstd, its transpose per default block + one
    # zstd frame per block.
    import numpy as np
    import bitshuffle
    arr = np.frombuffer(data, dtype=f"u{elem}" if elem in (1, 2, 4, 8) else f"V{elem}")
    block = max(128, (8192 // elem) // 8 * 8)
    out = bytearray(struct.pack(">QI", len(data), block * elem))
    if compressor == "lz4":
        return bytes(out) + bitshuffle.compress_lz4(arr, 0).tobytes()
    n, i = len(arr), 0
    while i + 8 <= n:
        m = min(block, n - i) // 8 * 8
        t = bitshuffle.bitshuffle(arr[i : i + m], 0).tobytes()
        frame = zstd_frame(t, 3)
        out += struct.pack(">I", len(frame)) + frame
        i += m
    return bytes(out + data[i * elem :])


def write(fuzzer, name, blob):
    d = os.path.join(ROOT, fuzzer)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(blob)


def main():
    for k, s in enumerate(samples()):
        # fuzz_lzf / fuzz_deflate: first byte selects the output capacity.
        cap_byte = min(255, (len(s) + 300) >> 6)
        write("fuzz_lzf", f"seed{k}", bytes([cap_byte]) + lzf_compress(s))
        write("fuzz_deflate", f"seed{k}", bytes([min(255, (len(s) >> 8) + 1)]) + zlib.compress(s, 6))
        write("fuzz_lz4", f"seed{k}", lz4_frame(s, 1 << 30))
        write("fuzz_lz4", f"seed{k}_b64", lz4_frame(s, 64))
        # fuzz_zstd: first byte selects the cap in 256-byte steps (+1)
        write("fuzz_zstd", f"seed{k}", bytes([min(255, (len(s) + 255) >> 8)]) + zstd_frame(s, 3))
        write("fuzz_zstd", f"seed{k}_streamed", bytes([min(255, (len(s) + 255) >> 8)]) + zstd_frame(s, 19, True))
        # fuzz_blosc: same cap byte convention as fuzz_zstd
        write("fuzz_blosc", f"seed{k}", bytes([min(255, (len(s) + 255) >> 8)]) + blosc_buffer(s, 4, 1, b"lz4"))
        write("fuzz_blosc", f"seed{k}_zstd_bit", bytes([min(255, (len(s) + 255) >> 8)]) + blosc_buffer(s, 4, 2, b"zstd"))
        # fuzz_bitshuffle: cap byte in 64-byte steps (+1), then the cd_values
        # selector (bits 0-2 element size 1,2,4,8,..., 0x20 zstd, 0x40 none).
        f4 = s[: len(s) // 4 * 4]
        if f4:
            cap4 = bytes([min(255, (len(f4) + 63) >> 6)])
            write("fuzz_bitshuffle", f"seed{k}", cap4 + bytes([2]) + bitshuffle_chunk(f4, 4, "lz4"))
            write("fuzz_bitshuffle", f"seed{k}_zstd", cap4 + bytes([0x22]) + bitshuffle_chunk(f4, 4, "zstd"))
        if s:
            write("fuzz_bitshuffle", f"seed{k}_e1", bytes([min(255, (len(s) + 63) >> 6), 0]) + bitshuffle_chunk(s, 1, "lz4"))
        write("fuzz_shuffle_fletcher", f"seed{k}", bytes([(2, 4, 8, 3, 16, 1, 5)[k % 7]]) + s)


if __name__ == "__main__":
    main()
