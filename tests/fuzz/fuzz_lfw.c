/* The LFW listing files: people.txt, a NUL byte, then pairs.txt, loaded as the lfw (View 2)
 * protocol, and as lfw-all when the first byte is odd. */
#include <sys/stat.h>

#include "datasets/registry.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n1, n2;
    const uint8_t *p2;
    fuzz_split(data, size, &n1, &p2, &n2);
    char lfw[160];
    snprintf(lfw, sizeof lfw, "%s/lfw", fuzz_scratch());
    mkdir(lfw, 0777);
    fuzz_write(0, "lfw/people.txt", data, n1);
    fuzz_write(1, "lfw/pairs.txt", p2, n2);
    vb_dataset d;
    vb_err e = {0};
    if (vb_dataset_open(size && (data[0] & 1) ? "lfw-all" : "lfw", NULL, fuzz_scratch(), &d, &e) == 0)
        vb_dataset_free(&d);
    return 0;
}
