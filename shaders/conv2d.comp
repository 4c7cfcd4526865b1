#version 450
// Convolution as an implicit GEMM, also used for fully connected layers (a 1x1 conv on a
// 1x1 input). Y[m][n] = sum_k A[m][k] * W[n][k], with
//   m = output pixel (image, oy, ox) of the NHWC output, M = batch * oh * ow
//   n = output channel, N = oc
//   k = (ky * kw + kx) * ic + ci, K = kh * kw * ic  (the OHWI weight row order, which is
//       also the NHWC patch order, so consecutive k read consecutive input channels)
// A is never materialized (no im2col buffer): each BK-wide slice of the patch rows of a BM
// x BN output tile is gathered into shared memory, out-of-range taps read zero.
//
// Tile shape by specialization constants (chosen per layer on the host, which guarantees
// WG_M * WG_N == local size, (WG_M * WG_N) % BK == 0 and (BM * BK) % (WG_M * WG_N) == 0,
// (BN * BK) % (WG_M * WG_N) == 0): each invocation computes TM x TN outputs, strided by the
// thread grid so that neighbouring invocations write neighbouring channels.
#include "common.glsl"
#include "weights.glsl"

layout(constant_id = 0) const uint WG_M = 16;
layout(constant_id = 1) const uint WG_N = 16;
layout(constant_id = 2) const uint TM = 4;
layout(constant_id = 3) const uint TN = 4;
layout(constant_id = 4) const uint BK = 16;
layout(local_size_x_id = 5) in;   // = WG_M * WG_N

const uint NT = WG_M * WG_N;
const uint BM = WG_M * TM;
const uint BN = WG_N * TN;
const uint A_PER_THREAD = BM * BK / NT;
const uint B_PER_THREAD = BN * BK / NT;
const uint ROWS_PER_PASS = NT / BK;

#ifdef ACT_F16
#define sh_t float16_t
#else
#define sh_t float
#endif
// +1 column of padding: the loads write a column (consecutive k) per group of invocations,
// which without padding would hit one shared-memory bank.
shared sh_t As[BK * (BM + 1)];
shared sh_t Bs[BK * (BN + 1)];

void main()
{
    const uint t = gl_LocalInvocationID.x;
    const uint M = pc.batch * pc.oh * pc.ow;
    const uint N = pc.oc;
    const uint K = pc.kh * pc.kw * pc.ic;
    const uint m0 = gl_WorkGroupID.x * BM;
    const uint n0 = gl_WorkGroupID.y * BN;

    // Each invocation loads a fixed k lane and fixed rows; resolve its rows' pixels once.
    const uint lane_k = t % BK;
    const uint lane_row = t / BK;
    int a_iy0[A_PER_THREAD], a_ix0[A_PER_THREAD];
    uint a_img[A_PER_THREAD];   // first pixel of the row's image, or ~0u past M
    for (uint i = 0; i < A_PER_THREAD; i++) {
        uint m = m0 + lane_row + i * ROWS_PER_PASS;
        uint ox = m % pc.ow, rest = m / pc.ow;
        uint oy = rest % pc.oh, img = rest / pc.oh;
        a_iy0[i] = int(oy * pc.stride) - int(pc.pad_top);
        a_ix0[i] = int(ox * pc.stride) - int(pc.pad_left);
        a_img[i] = m < M ? img * pc.ih * pc.iw : ~0u;
    }

    float acc[TM * TN];
    for (uint i = 0; i < TM * TN; i++)
        acc[i] = 0.0;

    const uint tx = t % WG_N, ty = t / WG_N;
    // This invocation's k = (ky * kw + kx) * ic + ci, stepped by BK without an integer
    // division per step (a GPU spends tens of instructions on each): ci wraps into kx, kx
    // into ky. For ic >= BK the loop below runs at most once.
    uint ci = lane_k % pc.ic, tap0 = lane_k / pc.ic;
    int kx = int(tap0 % pc.kw), ky = int(tap0 / pc.kw);
    for (uint k0 = 0; k0 < K; k0 += BK) {
        const uint k = k0 + lane_k;
        for (uint i = 0; i < A_PER_THREAD; i++) {
            int iy = a_iy0[i] + ky, ix = a_ix0[i] + kx;
            float v = 0.0;
            if (k < K && a_img[i] != ~0u && iy >= 0 && iy < int(pc.ih) && ix >= 0 && ix < int(pc.iw))
                v = float(src0[(a_img[i] + uint(iy) * pc.iw + uint(ix)) * pc.ic + ci]);
            As[lane_k * (BM + 1) + lane_row + i * ROWS_PER_PASS] = sh_t(v);
        }
        for (uint i = 0; i < B_PER_THREAD; i++) {
            uint n = n0 + lane_row + i * ROWS_PER_PASS;
            float v = 0.0;
            if (k < K && n < N)
                v = load_weight(n * K + k);
            Bs[lane_k * (BN + 1) + lane_row + i * ROWS_PER_PASS] = sh_t(v);
        }
        barrier();
        for (uint kk = 0; kk < BK; kk++) {
            float a[TM], b[TN];
            for (uint i = 0; i < TM; i++)
                a[i] = float(As[kk * (BM + 1) + ty + i * WG_M]);
            for (uint j = 0; j < TN; j++)
                b[j] = float(Bs[kk * (BN + 1) + tx + j * WG_N]);
            for (uint i = 0; i < TM; i++)
                for (uint j = 0; j < TN; j++)
                    acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);
        }
        barrier();
        ci += BK;
        while (ci >= pc.ic) {
            ci -= pc.ic;
            if (++kx == int(pc.kw)) {
                kx = 0;
                ky++;
            }
        }
    }

    for (uint i = 0; i < TM; i++) {
        uint m = m0 + ty + i * WG_M;
        if (m >= M)
            continue;
        for (uint j = 0; j < TN; j++) {
            uint n = n0 + tx + j * WG_N;
            if (n < N)
                dst[m * N + n] = act_t(conv_epilogue(acc[i * TN + j], m, n));
        }
    }
}
