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

// conv2d_sg.comp's loads: 4 consecutive elements idx.. of one weight row (idx a multiple
// of 4) as raw 32-bit words, decoded by weight_unpack. A CPU implementation (llvmpipe) pays
// per loaded component, so packed formats are loaded packed (4 halves in a uvec2, 4 int8
// quants in one word).
//   raw.xy: the packed words (W_F32: raw = 4 floats)
//   raw.z:  the block scale (quantized types), raw.w: the Q4_0 nibble shift
layout(std430, set = 0, binding = 3) readonly buffer Weights4 { uvec4 wdata4[]; };
layout(std430, set = 0, binding = 3) readonly buffer Weights2 { uvec2 wdata2[]; };

uvec4 weight_raw(uint idx)
{
#if defined(W_F32)
    return wdata4[idx >> 2];
#elif defined(W_F16)
    return uvec4(wdata2[idx >> 2], 0u, 0u);
#elif defined(W_Q8_0)
    return uvec4(wdata[idx >> 2], 0u, floatBitsToUint(wscale[idx >> 5]), 0u);
#elif defined(W_Q4_0)
    uint j = idx & 31u;
    return uvec4(wdata[((idx >> 5) * 16u + (j & 15u)) >> 2], 0u, floatBitsToUint(wscale[idx >> 5]),
                 j < 16u ? 0u : 4u);
#endif
}

vec4 weight_unpack(uvec4 raw)
{
#if defined(W_F32)
    return uintBitsToFloat(raw);
#elif defined(W_F16)
    return vec4(unpackHalf2x16(raw.x), unpackHalf2x16(raw.y));
#elif defined(W_Q8_0)
    ivec4 q = (ivec4(raw.x) << ivec4(24, 16, 8, 0)) >> 24; // sign-extended bytes
    return vec4(q) * uintBitsToFloat(raw.z);
#elif defined(W_Q4_0)
    uvec4 q = (uvec4(raw.x) >> (uvec4(0u, 8u, 16u, 24u) + raw.w)) & 15u;
    return (vec4(q) - 8.0) * uintBitsToFloat(raw.z);
#endif
}

// Four consecutive elements idx..idx+3 of one weight row, idx a multiple of 4 (dwconv.comp).
vec4 load_weight4(uint idx)
{
    return weight_unpack(weight_raw(idx));
}
