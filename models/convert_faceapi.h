/* Import of face-api.js weights (tfjs weights manifest + .bin) into GGUF v3. */
#ifndef VB_CONVERT_FACEAPI_H
#define VB_CONVERT_FACEAPI_H

#include "core/common.h"

/* Convert every net this version knows from model_dir into out_dir/<net>.gguf.
 * Prints one line per written file to `report` (may be NULL). */
int vb_convert_faceapi(const char *model_dir, const char *out_dir, FILE *report, vb_err *e);

/* Convert one net: manifest + bin -> GGUF at out_path. */
int vb_convert_faceapi_net(const char *model_dir, const char *net, const char *out_path, vb_err *e);

#endif
