#version 450
// The fingerprint orientation tensor (vb_backend_fp_orient; the reference is
// vb_fp_orient_tensor in models/fp_image.c), as three passes chosen by specialization
// constant 0:
//   PASS 0  rows of a separable Gaussian: dst = sum_{i=-r..r} taps[i+r] * src[y][clamp(x+i)]
//   PASS 1  its columns:                   dst = sum_{i=-r..r} taps[i+r] * src[clamp(y+i)][x]
//   PASS 2  Sobel gradient of one plane and its three products gx^2, gy^2, gx*gy (3 planes)
// The host dispatches rows, columns (grad sigma), Sobel, rows, columns (orient sigma, 3 planes).
// Every sum is one fp32 accumulator from 0 in the reference's order and every operation is
// `precise` (no fma, no reassociation): the tensor is bit-identical to the reference's where
// the device rounds fp32 as IEEE does. The taps come from the host (vb_fp_gauss_taps).
//
// One invocation per output pixel and plane (z). Bindings: 0 the input planes, 2 the output
// planes, 3 the taps (PASS 0/1); 1, 4 and 5 unused.
layout(local_size_x = 16, local_size_y = 16) in;
layout(constant_id = 0) const uint PASS = 0u;

// backends/vulkan/vk_kernels.h's vb_vk_fp_push
layout(push_constant) uniform FpPush {
    uint w, h, planes, r;
} pc;

layout(std430, set = 0, binding = 0) readonly buffer Src { float src[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Dst { float dst[]; };
layout(std430, set = 0, binding = 3) readonly buffer Taps { float taps[]; };

float at(uint base, int x, int y)
{
    x = clamp(x, 0, int(pc.w) - 1);
    y = clamp(y, 0, int(pc.h) - 1);
    return src[base + uint(y) * pc.w + uint(x)];
}

void main()
{
    const uint x = gl_GlobalInvocationID.x, y = gl_GlobalInvocationID.y, p = gl_GlobalInvocationID.z;
    if (x >= pc.w || y >= pc.h || p >= pc.planes)
        return;
    const uint n = pc.w * pc.h, i = y * pc.w + x;
    const int xi = int(x), yi = int(y);
    if (PASS == 2u) {
        float nb[9];
        for (int dy = 0; dy < 3; dy++)
            for (int dx = 0; dx < 3; dx++)
                nb[dy * 3 + dx] = at(0u, xi + dx - 1, yi + dy - 1);
        precise float gx = (nb[2] + 2.0 * nb[5] + nb[8]) - (nb[0] + 2.0 * nb[3] + nb[6]);
        precise float gy = (nb[6] + 2.0 * nb[7] + nb[8]) - (nb[0] + 2.0 * nb[1] + nb[2]);
        precise float gxx = gx * gx, gyy = gy * gy, gxy = gx * gy;
        dst[i] = gxx;
        dst[n + i] = gyy;
        dst[2u * n + i] = gxy;
        return;
    }
    const int r = int(pc.r);
    const uint base = p * n;
    precise float acc = 0.0;
    for (int k = -r; k <= r; k++) {
        precise float prod = taps[k + r] * (PASS == 0u ? at(base, xi + k, yi) : at(base, xi, yi + k));
        acc += prod;
    }
    dst[base + i] = acc;
}
