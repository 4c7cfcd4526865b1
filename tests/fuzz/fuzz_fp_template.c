/* Fingerprint templates from outside: ISO/IEC 19794-2-style minutiae records (input
 * starting "FMR") and the run's fixed-size float records (any other input of exactly that
 * size); a template that parses is turned into MCC cylinders and matched against itself,
 * so the matcher meets arbitrary valid minutiae (duplicates, collinear points, edges). */
#include <stdlib.h>
#include <string.h>

#include "models/fingerprint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vb_fp_template t; /* large: not on the stack */
    vb_err e = {0};
    int ok;
    if (size >= 3 && !memcmp(data, "FMR", 3)) {
        ok = vb_fp_template_from_iso(data, size, &t, &e) == 0;
    } else if (size == VB_FP_TEMPLATE_FLOATS * sizeof(float)) {
        float rec[VB_FP_TEMPLATE_FLOATS];
        memcpy(rec, data, sizeof rec);
        ok = vb_fp_template_unpack(rec, &t, &e) == 0;
    } else {
        return 0;
    }
    if (!ok || t.count > 40) /* the matcher's cost grows with the square of the count */
        return 0;
    vb_fp_params p;
    vb_fp_params_default(&p);
    vb_fp_cylinders *c = vb_fp_cylinders_make(&t, &p, &e);
    if (c) {
        double s = vb_fp_match(c, c, &p);
        if (!(s >= 0 && s <= 1))
            abort(); /* a similarity outside [0, 1] is a bug */
        vb_fp_cylinders_free(c);
    }
    return 0;
}
