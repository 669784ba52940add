#ifndef CBLAKE2_SHIM_H
#define CBLAKE2_SHIM_H
#include <blake2.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

// BLAKE2b (RFC 7693) of a message that fits one 128-byte block, unkeyed, with an 8-byte digest: the shard map's
// key hash. One fully unrolled compression of one block, without libb2's parameter-block set-up and buffering:
// ~138 ns against libb2's ~188 ns for a 29-byte key on this machine (clang -O2). Longer messages go to libb2.
// Tested against libb2 for every length from 0 to 300 bytes.

// Message and digest words are copied with memcpy: little-endian hosts only (every platform this builds for).
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "clstr_blake2b8 assumes a little-endian host");

static const uint64_t clstr_blake2b_iv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t clstr_blake2b_sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

static inline uint64_t clstr_rotr64(uint64_t w, unsigned c) { return (w >> c) | (w << (64 - c)); }

#define CLSTR_B2B_G(a, b, c, d, x, y)            \
    do {                                         \
        v[a] = v[a] + v[b] + (x);                \
        v[d] = clstr_rotr64(v[d] ^ v[a], 32);    \
        v[c] = v[c] + v[d];                      \
        v[b] = clstr_rotr64(v[b] ^ v[c], 24);    \
        v[a] = v[a] + v[b] + (y);                \
        v[d] = clstr_rotr64(v[d] ^ v[a], 16);    \
        v[c] = v[c] + v[d];                      \
        v[b] = clstr_rotr64(v[b] ^ v[c], 63);    \
    } while (0)

/// Writes the 8-byte BLAKE2b digest of `in[0..<length]` to `out`; returns 0 (or libb2's status beyond one block).
static inline int clstr_blake2b8(uint8_t out[8], const void *in, size_t length) {
    if (length > 128) return blake2b(out, in, NULL, 8, length, 0);
    uint64_t m[16];
    memset(m, 0, sizeof m);
    if (length > 0) memcpy(m, in, length);  // little-endian words on the platforms this builds for
    uint64_t h0 = clstr_blake2b_iv[0] ^ 0x01010000ULL ^ 8ULL;
    uint64_t v[16];
    v[0] = h0;
    for (int i = 1; i < 8; i++) v[i] = clstr_blake2b_iv[i];
    for (int i = 0; i < 8; i++) v[8 + i] = clstr_blake2b_iv[i];
    v[12] ^= (uint64_t)length;
    v[14] = ~v[14];
    _Pragma("clang loop unroll(full)") for (int r = 0; r < 12; r++) {
        const uint8_t *s = clstr_blake2b_sigma[r];
        CLSTR_B2B_G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        CLSTR_B2B_G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        CLSTR_B2B_G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        CLSTR_B2B_G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        CLSTR_B2B_G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        CLSTR_B2B_G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        CLSTR_B2B_G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        CLSTR_B2B_G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    uint64_t result = h0 ^ v[0] ^ v[8];
    memcpy(out, &result, 8);
    return 0;
}

#undef CLSTR_B2B_G
#endif
