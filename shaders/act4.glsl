// Four consecutive activations as one load or store (idx a multiple of 4, the buffer's
// offset a multiple of 16 bytes, as every activation slot is): a vec4 in fp32, two packed
// words in fp16. On a CPU device (llvmpipe) every buffer access is emulated lane by lane,
// so one wide access instead of four is what makes the element-wise kernels cheap there.
// Include after common.glsl.
#ifdef ACT_F16
layout(std430, set = 0, binding = 0) readonly buffer Src0v { uvec2 src0_v[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Dstv { uvec2 dst_v[]; };
vec4 load_act4(uint idx)
{
    uvec2 h = src0_v[idx >> 2];
    return vec4(unpackHalf2x16(h.x), unpackHalf2x16(h.y));
}
void store_act4(uint idx, vec4 v)
{
    dst_v[idx >> 2] = uvec2(packHalf2x16(v.xy), packHalf2x16(v.zw));
}
#else
layout(std430, set = 0, binding = 0) readonly buffer Src0v { vec4 src0_v[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Dstv { vec4 dst_v[]; };
vec4 load_act4(uint idx)
{
    return src0_v[idx >> 2];
}
void store_act4(uint idx, vec4 v)
{
    dst_v[idx >> 2] = v;
}
#endif
