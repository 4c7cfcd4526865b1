// Weight element decoding, one variant per stored type (glslc -D):
//   W_F32   one float per 32-bit word
//   W_F16   two IEEE halves per word, element 2i in the low half (unpackHalf2x16 is core
//           GLSL, so this variant needs no 16-bit storage feature)
//   W_Q8_0  ggml Q8_0 repacked at load: the int8 quants of all blocks back to back (4 per
//           word, little-endian) in binding 3, the fp16 block scales widened to fp32 in
//           binding 5; w = q * d
//   W_Q4_0  ggml Q4_0 repacked at load: each block's 16 bytes of nibbles back to back in
//           binding 3 (element j of a block in the low nibble of byte j for j < 16, in the
//           high nibble of byte j-16 otherwise, as ggml stores them), fp32 scales in
//           binding 5; w = (q - 8) * d
// idx is the element index in the row-major [rows][K] weight matrix; quantized rows are a
// multiple of 32 long, so blocks never straddle rows.
float load_weight(uint idx)
{
#if defined(W_F32)
    return uintBitsToFloat(wdata[idx]);
#elif defined(W_F16)
    vec2 pair = unpackHalf2x16(wdata[idx >> 1]);
    return (idx & 1u) == 0u ? pair.x : pair.y;
#elif defined(W_Q8_0)
    int q = bitfieldExtract(int(wdata[idx >> 2]), int((idx & 3u) * 8u), 8);
    return float(q) * wscale[idx >> 5];
#elif defined(W_Q4_0)
    uint j = idx & 31u;
    uint byte_off = (idx >> 5) * 16u + (j & 15u);
    uint b = (wdata[byte_off >> 2] >> ((byte_off & 3u) * 8u)) & 0xffu;
    uint q = j < 16u ? (b & 15u) : (b >> 4);
    return float(int(q) - 8) * wscale[idx >> 5];
#else
#error "define one of W_F32, W_F16, W_Q8_0, W_Q4_0"
#endif
}
