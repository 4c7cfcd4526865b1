/* The face-api.js import: a weights manifest (JSON), a NUL byte, then the .bin it points
 * to, converted to GGUF as the face_recognition net. */
#include "fuzz_util.h"
#include "models/convert_faceapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n1, n2;
    const uint8_t *p2;
    fuzz_split(data, size, &n1, &p2, &n2);
    fuzz_write(0, "face_recognition_model-weights_manifest.json", data, n1);
    fuzz_write(1, "face_recognition_model.bin", p2, n2);
    char out[192];
    snprintf(out, sizeof out, "%s/out.gguf", fuzz_scratch());
    vb_err e = {0};
    vb_convert_faceapi_net(fuzz_scratch(), "face_recognition", out, &e);
    return 0;
}
