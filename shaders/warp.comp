#version 450
// Face chip warp (vb_backend_warp; the reference is vb_warp_chip in models/face_align.c):
// chip pixel (u, v) of chip i samples image i at x = a*u - b*v + tx, y = b*u + a*v + ty with
// dlib's interpolate_bilinear (a sample whose four taps are not all inside the image is 0 in
// every channel; the interpolated value truncated to 8 bits, as dlib stores its rgb_pixel
// chip), gray replicated to RGB, then out = (value - mean[ch]) * scale. One invocation per
// chip pixel in a grid-stride loop, all chips of a call in one dispatch.
//
// Variants (glslc -D):
//   WARP_F64  the reference's own arithmetic in double, operation for operation (`precise`:
//             no contraction into fma): the chip is bit-identical to vb_warp_chip's.
//             Needs shaderFloat64.
//   WARP_F32  for devices without fp64: the transform is split into an integer origin
//             (floor(tx), floor(ty)) and an fp32 remainder, so the position keeps ~1e-5 px
//             whatever the image size; the truncation to 8 bits can then land one level
//             below or above the reference's, and a sample right on the image's last
//             row or column can fall on the other side of the all-taps-inside rule.
//
// Bindings (the common set layout of common.glsl; 0, 1 and 5 unused): 2 the chips, NHWC
// fp32; 3 the images' bytes back to back (4 per word, little-endian); 4 one Chip per chip.
#extension GL_GOOGLE_include_directive : require
#ifdef WARP_F64
#extension GL_ARB_gpu_shader_fp64 : require
#endif

layout(local_size_x = 256) in;

layout(push_constant) uniform WarpPush {
    uint n;                 // chips in this dispatch
    uint size;              // chip side in pixels
    float mean_r, mean_g, mean_b;
    float scale;
} pc;

// backends/vulkan/vk_kernels.h's vb_vk_warp_chip, field for field (72 bytes).
struct Chip {
    uvec2 a, b, tx, ty;     // the transform's doubles as raw bits (low word first)
    int ix, iy;             // floor(tx), floor(ty)
    float fx, fy;           // tx - ix, ty - iy
    float af, bf;           // a, b rounded to fp32
    uint offset;            // the image's first byte in binding 3
    uint w, h, c;           // the image's size and channels (1 or 3)
};

layout(std430, set = 0, binding = 2) writeonly buffer Dst { float dst[]; };
layout(std430, set = 0, binding = 3) readonly buffer Pixels { uint pixels[]; };
layout(std430, set = 0, binding = 4) readonly buffer Chips { Chip chips[]; };

float tap(uint i)
{
    return float((pixels[i >> 2] >> ((i & 3u) * 8u)) & 0xffu);
}

void main()
{
    const uint per_chip = pc.size * pc.size;
    const uint total = pc.n * per_chip;
    const uint step = gl_NumWorkGroups.x * 256u;
    for (uint idx = gl_GlobalInvocationID.x; idx < total; idx += step) {
        const uint chip = idx / per_chip, pix = idx % per_chip;
        const uint u = pix % pc.size, v = pix / pc.size;
        const Chip ch = chips[chip];
        uint val[3] = uint[3](0u, 0u, 0u);
        bool inside;
        int left, top;
#ifdef WARP_F64
        const double a = packDouble2x32(ch.a), b = packDouble2x32(ch.b);
        const double tx = packDouble2x32(ch.tx), ty = packDouble2x32(ch.ty);
        precise double x = a * double(u) - b * double(v) + tx;
        precise double y = b * double(u) + a * double(v) + ty;
        const double fl = floor(x), ft = floor(y);
        inside = fl >= 0.0LF && ft >= 0.0LF && fl + 1.0LF < double(ch.w) && ft + 1.0LF < double(ch.h);
        left = inside ? int(fl) : 0;
        top = inside ? int(ft) : 0;
        precise double lr = x - double(left), tb = y - double(top);
#else
        precise float xr = ch.fx + (ch.af * float(u) - ch.bf * float(v));
        precise float yr = ch.fy + (ch.bf * float(u) + ch.af * float(v));
        const float fl = floor(xr), ft = floor(yr);
        left = ch.ix + int(fl);
        top = ch.iy + int(ft);
        inside = left >= 0 && top >= 0 && left + 1 < int(ch.w) && top + 1 < int(ch.h);
        precise float lr = xr - fl, tb = yr - ft;
#endif
        if (inside) {
            const uint p0 = ch.offset + (uint(top) * ch.w + uint(left)) * ch.c, p1 = p0 + ch.w * ch.c;
            for (uint k = 0u; k < ch.c; k++) {
#ifdef WARP_F64
                precise double s = (1.0LF - tb) * ((1.0LF - lr) * double(tap(p0 + k)) + lr * double(tap(p0 + ch.c + k))) +
                                   tb * ((1.0LF - lr) * double(tap(p1 + k)) + lr * double(tap(p1 + ch.c + k)));
#else
                precise float s = (1.0 - tb) * ((1.0 - lr) * tap(p0 + k) + lr * tap(p0 + ch.c + k)) +
                                  tb * ((1.0 - lr) * tap(p1 + k) + lr * tap(p1 + ch.c + k));
#endif
                val[k] = uint(s);
            }
            if (ch.c == 1u)
                val[1] = val[2] = val[0];
        }
        precise float r = (float(val[0]) - pc.mean_r) * pc.scale;
        precise float g = (float(val[1]) - pc.mean_g) * pc.scale;
        precise float bl = (float(val[2]) - pc.mean_b) * pc.scale;
        dst[idx * 3u] = r;
        dst[idx * 3u + 1u] = g;
        dst[idx * 3u + 2u] = bl;
    }
}
