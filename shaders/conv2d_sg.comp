#version 450
// Convolution / fully connected layer as an implicit GEMM for devices whose subgroup is one
// SIMD register of a CPU (llvmpipe, SwiftShader): the same product as conv2d.comp,
// Y[m][n] = sum_k A[m][k] * W[n][k] with m = output pixel, n = output channel,
// k = (ky * kw + kx) * ic + ci, but organised for how such a device executes a shader:
//  - a workgroup is exactly one subgroup (SG invocations, one per SIMD lane), so no
//    shared memory and no barrier is needed (llvmpipe runs every barrier as a coroutine
//    switch of every lane group);
//  - inside a loop every buffer load is emulated lane by lane, component by component,
//    while arithmetic and subgroupBroadcast (a register shuffle) are whole-register
//    operations. So each lane loads few values and the subgroup shares them: lane l loads
//    the activations of pixels m0 + l (+ SG, ...) and the weights of channels
//    n0 + l + SG * j (j < 4); each pixel's activation is broadcast to every lane and
//    multiplied with the lane's four channels. Per k: AV + 4 loaded words for
//    PIX * 4 vector FMAs (conv2d.comp's tiles: TM + TN shared loads for TM * TN FMAs, plus
//    the global loads and shared stores that fill them);
//  - with KV = 4 (ic a multiple of 4) four consecutive k are one vec4 load (two words in
//    fp16), and the tap loop (ky, kx, ci) is nested so no integer division runs per k.
// The workgroup computes PIX output pixels (m0 = workgroup x * PIX) times 4 * SG output
// channels (workgroup y). Out-of-range taps read zero; the epilogue is conv2d.comp's.
// Sums are fp32 in the same k order as conv2d.comp (ky, kx, ci ascending).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#include "common.glsl"
#include "weights.glsl"

layout(constant_id = 0) const uint SG = 8;   // subgroup size = local size, at most 16
layout(constant_id = 1) const uint PIX = 16; // output pixels per workgroup, 1 .. 4 * SG
layout(constant_id = 2) const uint KV = 4;   // 4: taps of ic % 4 == 0 channels, vec4 loads;
                                             // 1: runs of kw * ic values, scalar loads
layout(local_size_x_id = 0) in;

const uint AV = (PIX + SG - 1) / SG;         // pixels each lane loads

// Activations (KV = 4 path): 4 consecutive values as raw words (4 halves in a uvec2, or 4
// floats) so that out-of-range taps are zeroed by one select, then decoded. Zero bits are
// 0.0 in fp32 and fp16.
#ifdef ACT_F16
layout(std430, set = 0, binding = 0) readonly buffer Src0u2 { uvec2 src0_u2[]; };
uvec4 act_raw(uint idx)
{
    return uvec4(src0_u2[idx >> 2], 0u, 0u);
}
vec4 act_unpack(uvec4 raw)
{
    return vec4(unpackHalf2x16(raw.x), unpackHalf2x16(raw.y));
}
#else
layout(std430, set = 0, binding = 0) readonly buffer Src0v4 { vec4 src0_v4[]; };
uvec4 act_raw(uint idx)
{
    return floatBitsToUint(src0_v4[idx >> 2]);
}
vec4 act_unpack(uvec4 raw)
{
    return uintBitsToFloat(raw);
}
#endif

// Four consecutive outputs from idx (a multiple of 4), one store (two words in fp16).
#ifdef ACT_F16
layout(std430, set = 0, binding = 2) writeonly buffer DstU2 { uvec2 dst_u2[]; };
void store4(uint idx, vec4 v)
{
    dst_u2[idx >> 2] = uvec2(packHalf2x16(v.xy), packHalf2x16(v.zw));
}
#else
layout(std430, set = 0, binding = 2) writeonly buffer DstV4 { vec4 dst_v4[]; };
void store4(uint idx, vec4 v)
{
    dst_v4[idx >> 2] = v;
}
#endif

// acc[p] += broadcast(a[kk], S) * b[kk] over the 4 k of this step, for the pixel
// p = i * SG + S whose activations lane S loaded. One pixel's four accumulators stay in
// registers for all 4 k (measured ~20% less CPU time on llvmpipe than k-outer order, which
// keeps every accumulator live at once and spills). subgroupBroadcast needs a constant lane,
// hence one line per lane; the conditions are specialization constants and the unrolled loop
// counter, folded away at pipeline creation.
#define STEP(S)                                                                           \
    if (S < SG && i * SG + S < PIX) {                                                     \
        vec4 t = acc[i * SG + S];                                                         \
        for (uint kk = 0; kk < 4u; kk++)                                                  \
            t = fma(vec4(subgroupBroadcast(av[i][kk], S)), b[kk], t);                     \
        acc[i * SG + S] = t;                                                              \
    }

// One step of 4 k: av[i] holds the 4 k of the lane's pixel i, bw[j] those of its channel
// n + j; b[kk] regroups the channels per k.
#define ACCUMULATE                                                                        \
    {                                                                                     \
        vec4 b[4];                                                                        \
        for (uint kk = 0; kk < 4u; kk++)                                                  \
            b[kk] = vec4(bw[0][kk], bw[1][kk], bw[2][kk], bw[3][kk]);                     \
        for (uint i = 0; i < AV; i++) {                                                   \
            STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7)               \
            STEP(8) STEP(9) STEP(10) STEP(11) STEP(12) STEP(13) STEP(14) STEP(15)         \
        }                                                                                 \
    }

void main()
{
    const uint lane = gl_SubgroupInvocationID;
    const uint M = pc.batch * pc.oh * pc.ow;
    const uint N = pc.oc;
    const uint K = pc.kh * pc.kw * pc.ic;
    const uint m0 = gl_WorkGroupID.x * PIX;
    const uint n0 = gl_WorkGroupID.y * 4u * SG;

    // This lane's pixels: top-left tap, first pixel of its image, in range.
    int iy0[AV], ix0[AV];
    uint img0[AV];
    bool pix_ok[AV];
    for (uint i = 0; i < AV; i++) {
        uint p = i * SG + lane, m = m0 + p;
        uint ox = m % pc.ow, rest = m / pc.ow;
        uint oy = rest % pc.oh, img = rest / pc.oh;
        iy0[i] = int(oy * pc.stride) - int(pc.pad_top);
        ix0[i] = int(ox * pc.stride) - int(pc.pad_left);
        img0[i] = img * pc.ih * pc.iw;
        pix_ok[i] = p < PIX && m < M;
    }
    // This lane's four consecutive channels n, n + 1, n + 2, n + 3 (so that its outputs of a
    // pixel are one vector store) and their weight rows (channels past N read row N - 1 and
    // are never stored).
    const uint n = n0 + 4u * lane;
    uint wrow[4];
    for (uint j = 0; j < 4u; j++)
        wrow[j] = min(n + j, N - 1u) * K;

    vec4 acc[PIX];
    for (uint p = 0; p < PIX; p++)
        acc[p] = vec4(0.0);

    if (KV == 4u) {
        for (uint ky = 0; ky < pc.kh; ky++) {
            for (uint kx = 0; kx < pc.kw; kx++) {
                // Where this tap reads each of the lane's pixels; out of range: element 0, zeroed.
                uint abase[AV];
                bool aok[AV];
                for (uint i = 0; i < AV; i++) {
                    int iy = iy0[i] + int(ky), ix = ix0[i] + int(kx);
                    aok[i] = pix_ok[i] && iy >= 0 && iy < int(pc.ih) && ix >= 0 && ix < int(pc.iw);
                    abase[i] = aok[i] ? (img0[i] + uint(iy) * pc.iw + uint(ix)) * pc.ic : 0u;
                }
                const uint tap = (ky * pc.kw + kx) * pc.ic;
                for (uint c = 0; c < pc.ic; c += KV) {
                    uvec4 ar[AV], br[4];
                    for (uint i = 0; i < AV; i++) {
                        uvec4 r = act_raw(abase[i] + c); // unconditional load, then select: no branch
                        ar[i] = aok[i] ? r : uvec4(0u);   // zero bits are 0.0 in fp32 and fp16
                    }
                    for (uint j = 0; j < 4u; j++)
                        br[j] = weight_raw(wrow[j] + tap + c);
                    vec4 av[AV], bw[4];
                    for (uint i = 0; i < AV; i++)
                        av[i] = act_unpack(ar[i]);
                    for (uint j = 0; j < 4u; j++)
                        bw[j] = weight_unpack(br[j]);
                    ACCUMULATE
                }
            }
        }
    } else {
        // ic % 4 != 0 (the first layer's 3 channels): for one ky, the taps kx = 0..kw-1 and
        // their channels are kw * ic consecutive values both in a row of the input and in a
        // weight row, so they are taken four at a time as one run, whatever tap and channel
        // each one is; values outside the image (r outside [lo, hi) or the row outside) read
        // zero, and so do weights past the run. One step per 4 k instead of one per k and tap.
        const uint R = pc.kw * pc.ic;
        int lo[AV], hi[AV];
        for (uint i = 0; i < AV; i++) {
            lo[i] = max(0, -ix0[i]) * int(pc.ic);
            hi[i] = clamp(int(pc.iw) - ix0[i], 0, int(pc.kw)) * int(pc.ic);
        }
        for (uint ky = 0; ky < pc.kh; ky++) {
            int rbase[AV];
            bool rok[AV];
            for (uint i = 0; i < AV; i++) {
                int iy = iy0[i] + int(ky);
                rok[i] = pix_ok[i] && iy >= 0 && iy < int(pc.ih);
                rbase[i] = (int(img0[i]) + iy * int(pc.iw) + ix0[i]) * int(pc.ic);
            }
            const uint wtap = ky * R;
            for (uint r0 = 0; r0 < R; r0 += 4u) {
                vec4 av[AV], bw[4];
                for (uint i = 0; i < AV; i++)
                    for (uint q = 0; q < 4u; q++) {
                        int r = int(r0 + q);
                        bool ok = rok[i] && r >= lo[i] && r < hi[i];
                        float v = float(src0[ok ? uint(rbase[i] + r) : 0u]); // load, then select
                        av[i][q] = ok ? v : 0.0;
                    }
                for (uint j = 0; j < 4u; j++)
                    for (uint q = 0; q < 4u; q++) {
                        float w = load_weight(wrow[j] + wtap + min(r0 + q, R - 1u));
                        bw[j][q] = r0 + q < R ? w : 0.0;
                    }
                ACCUMULATE
            }
        }
    }

    // Epilogue (conv_epilogue's operations, per lane for its four channels): the parameters
    // are loaded once, not per pixel, and the residual's pixel is stepped, not divided out:
    // every load and store costs a lane-by-lane loop on a CPU device.
    vec4 bias = vec4(0.0), scale = vec4(1.0), shift = vec4(0.0);
    for (uint j = 0; j < 4u; j++) {
        uint ch = min(n + j, N - 1u);
        if ((pc.flags & FLAG_BIAS) != 0u)
            bias[j] = params[ch];
        if ((pc.flags & FLAG_AFFINE) != 0u) {
            scale[j] = params[N + ch];
            shift[j] = params[2u * N + ch];
        }
    }
    const bool add = (pc.flags & FLAG_ADD) != 0u;
    uint x = m0 % pc.ow, rest = m0 / pc.ow;
    uint y = rest % pc.oh, img = rest / pc.oh;
    const bool vec_store = N % 4u == 0u && n + 3u < N;
    for (uint p = 0; p < PIX; p++) {
        uint m = m0 + p;
        if (m >= M)
            break;
        vec4 v = (acc[p] + bias) * scale + shift;
        if (add && y < pc.bh && x < pc.bw) {
            uint r = ((img * pc.bh + y) * pc.bw + x) * pc.bc;
            for (uint j = 0; j < 4u; j++)
                if (n + j < pc.bc)
                    v[j] += float(src1[r + n + j]);
        }
        if ((pc.flags & FLAG_RELU) != 0u)
            v = max(v, vec4(0.0));
        if ((pc.flags & FLAG_LEAKY) != 0u)
            v = mix(pc.alpha * v, v, greaterThan(v, vec4(0.0)));
        if ((pc.flags & FLAG_RELU6) != 0u)
            v = mix(vec4(0.0), min(v, vec4(6.0)), greaterThan(v, vec4(0.0)));
        if (vec_store) {
            store4(m * N + n, v);
        } else {
            for (uint j = 0; j < 4u; j++)
                if (n + j < N)
                    dst[m * N + n + j] = act_t(v[j]);
        }
        if (++x == pc.ow) {
            x = 0u;
            if (++y == pc.oh) {
                y = 0u;
                img++;
            }
        }
    }
}
