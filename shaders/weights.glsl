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

// Four consecutive elements idx..idx+3 of one weight row, idx a multiple of 4 (rows whose
// length K is a multiple of 4: conv2d_sg.comp's vector path). One 32-bit word per element
// for W_F32, two for W_F16, one word (plus a scale) for the quantized types: a CPU
// implementation (llvmpipe) pays per loaded component, so wide loads are what make it fast.
layout(std430, set = 0, binding = 3) readonly buffer Weights4 { uvec4 wdata4[]; };
layout(std430, set = 0, binding = 3) readonly buffer Weights2 { uvec2 wdata2[]; };

vec4 load_weight4(uint idx)
{
#if defined(W_F32)
    return uintBitsToFloat(wdata4[idx >> 2]);
#elif defined(W_F16)
    uvec2 w = wdata2[idx >> 2];
    return vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
#elif defined(W_Q8_0)
    ivec4 q = (ivec4(wdata[idx >> 2]) << ivec4(24, 16, 8, 0)) >> 24; // sign-extended bytes
    return vec4(q) * wscale[idx >> 5];
#elif defined(W_Q4_0)
    uint j = idx & 31u;
    uint w = wdata[((idx >> 5) * 16u + (j & 15u)) >> 2];
    uvec4 q = (uvec4(w) >> (uvec4(0u, 8u, 16u, 24u) + (j < 16u ? 0u : 4u))) & 15u;
    return (vec4(q) - 8.0) * wscale[idx >> 5];
#endif
}
