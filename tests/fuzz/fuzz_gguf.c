/* GGUF model files: the reader (every count, length, type and offset) and, when a file
 * parses, the graph builder that reads its metadata and tensor shapes. */
#include <stdlib.h>
#include <string.h>

#include "models/gguf.h"
#include "models/graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    vb_model m;
    vb_err e = {0};
    if (vb_model_parse(buf, size, "fuzz.gguf", &m, &e) == 0) {
        static vb_graph g; /* large: not on the stack */
        memset(&g, 0, sizeof g);
        vb_graph_build(&m, &g, &e);
        vb_model_free(&m);
    }
    return 0;
}
