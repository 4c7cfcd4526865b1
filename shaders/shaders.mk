# Vulkan compute shaders: every variant is compiled by glslc to SPIR-V and embedded in the
# binary as a C array ($(BUILD)/gen/vb_shaders.c, table in backends/vulkan/vk_shaders.h).
# Included by the top-level Makefile.
#
# A variant is a (source, -D defines) pair with a name the backend looks up:
#   conv2d_<act>_w<wt>   implicit-GEMM conv / fc; act = activation storage f32|f16,
#                        wt = weight storage f32|f16|q8_0|q4_0
#   conv2d_sg_<act>_w<wt> the same for CPU devices (llvmpipe): subgroup register tiles
#   dwconv_<act>_w<act>  depthwise conv; its float weights are stored as the activations are
#   pool_max_<act>, pool_avg_<act>, eltwise_<act>, mean_<act>
#   warp_f64, warp_f32   face chip warp (fp32 output; exact fp64 variant, and one for devices
#                        without fp64)
#   fp_orient, fp_gabor  fingerprint orientation tensor (blur rows / columns / Sobel passes by
#                        specialization constant) and Gabor enhancement, fp32
# Tile shapes and filter sizes are specialization constants chosen at run time, not variants.

GLSLC ?= glslc
VB_SPV_FLAGS := --target-env=vulkan1.1 -O -Werror
VB_SHADER_DIR := $(BUILD)/gen/shaders
VB_SHADER_DEPS := $(wildcard shaders/*.glsl) shaders/shaders.mk
VB_SHADER_NAMES :=

# $(1) variant name, $(2) source file in shaders/, $(3) glslc defines
define vb_shader_rule
$(VB_SHADER_DIR)/$(1).inc: shaders/$(2) $(VB_SHADER_DEPS)
	@mkdir -p $$(dir $$@)
	@command -v $(GLSLC) >/dev/null || { echo "glslc not found: install it (Debian/Ubuntu package glslc, or the Vulkan SDK) to compile shaders/" >&2; exit 1; }
	$(GLSLC) $(VB_SPV_FLAGS) $(3) -mfmt=c $$< -o $$@.tmp
	@mv $$@.tmp $$@
VB_SHADER_NAMES += $(1)
endef

vb_act_flag = $(if $(filter f16,$(1)),-DACT_F16)
vb_wt_flag = -DW_$(subst f,F,$(subst q,Q,$(1)))

$(foreach a,f32 f16,$(foreach w,f32 f16 q8_0 q4_0,\
  $(eval $(call vb_shader_rule,conv2d_$(a)_w$(w),conv2d.comp,$(call vb_act_flag,$(a)) $(call vb_wt_flag,$(w))))\
  $(eval $(call vb_shader_rule,conv2d_sg_$(a)_w$(w),conv2d_sg.comp,$(call vb_act_flag,$(a)) $(call vb_wt_flag,$(w))))))
$(foreach a,f32 f16,\
  $(eval $(call vb_shader_rule,pool_max_$(a),pool.comp,-DPOOL_MAX $(call vb_act_flag,$(a))))\
  $(eval $(call vb_shader_rule,pool_avg_$(a),pool.comp,-DPOOL_AVG $(call vb_act_flag,$(a))))\
  $(eval $(call vb_shader_rule,eltwise_$(a),eltwise.comp,$(call vb_act_flag,$(a))))\
  $(eval $(call vb_shader_rule,mean_$(a),mean.comp,$(call vb_act_flag,$(a))))\
  $(eval $(call vb_shader_rule,dwconv_$(a)_w$(a),dwconv.comp,$(call vb_act_flag,$(a)) $(call vb_wt_flag,$(a)))))
$(eval $(call vb_shader_rule,warp_f64,warp.comp,-DWARP_F64))
$(eval $(call vb_shader_rule,warp_f32,warp.comp,-DWARP_F32))
$(eval $(call vb_shader_rule,fp_orient,fp_orient.comp,))
$(eval $(call vb_shader_rule,fp_gabor,fp_gabor.comp,))

$(BUILD)/gen/vb_shaders.c: $(patsubst %,$(VB_SHADER_DIR)/%.inc,$(VB_SHADER_NAMES)) shaders/embed.sh
	sh shaders/embed.sh $@ $(VB_SHADER_NAMES)

GEN_SRCS += $(BUILD)/gen/vb_shaders.c

# This file is included before the Makefile's first rule: let `all` stay the default goal.
.DEFAULT_GOAL :=
