/* Image decoding from memory: JPEG, PNG, TIFF, PGM/PPM, recognised by content. */
#include "datasets/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vb_image img;
    vb_err e = {0};
    if (vb_image_decode(data, size, "fuzz.img", &img, &e) == 0)
        vb_image_free(&img);
    return 0;
}
