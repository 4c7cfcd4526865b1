#version 450
// Oriented Gabor enhancement of a print (vb_backend_fp_gabor; the reference is
// vb_fp_gabor_apply in models/fp_image.c): pixel (x, y) in bin b is
//   sum_{dy=-r..r} sum_{dx=-r..r} bank[b][dy+r][dx+r] * img[clamp(y+dy)][clamp(x+dx)]
// (dy outer, dx inner, one fp32 accumulator from 0, `precise`: no fma, no reassociation),
// 0 for a pixel outside the mask (bin 255). The bank and the bins come from the host
// (vb_fp_gabor_bank, vb_fp_gabor_bins), so the response is bit-identical to the
// reference's where the device rounds fp32 as IEEE does.
//
// One invocation per pixel. Bindings: 0 the image, 1 the bins (bytes, 4 per word,
// little-endian), 2 the response, 3 the bank; 4 and 5 unused.
layout(local_size_x = 16, local_size_y = 16) in;

// backends/vulkan/vk_kernels.h's vb_vk_fp_push (planes unused)
layout(push_constant) uniform FpPush {
    uint w, h, planes, r;
} pc;

layout(std430, set = 0, binding = 0) readonly buffer Img { float img[]; };
layout(std430, set = 0, binding = 1) readonly buffer Bins { uint bins[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Dst { float dst[]; };
layout(std430, set = 0, binding = 3) readonly buffer Bank { float bank[]; };

void main()
{
    const uint x = gl_GlobalInvocationID.x, y = gl_GlobalInvocationID.y;
    if (x >= pc.w || y >= pc.h)
        return;
    const uint i = y * pc.w + x;
    const uint b = (bins[i >> 2] >> ((i & 3u) * 8u)) & 0xffu;
    if (b == 255u) {
        dst[i] = 0.0;
        return;
    }
    const int r = int(pc.r), side = 2 * r + 1;
    const int last_x = int(pc.w) - 1, last_y = int(pc.h) - 1;
    uint k = b * uint(side * side);
    precise float acc = 0.0;
    for (int dy = -r; dy <= r; dy++) {
        const uint row = uint(clamp(int(y) + dy, 0, last_y)) * pc.w;
        for (int dx = -r; dx <= r; dx++, k++) {
            precise float prod = bank[k] * img[row + uint(clamp(int(x) + dx, 0, last_x))];
            acc += prod;
        }
    }
    dst[i] = acc;
}
