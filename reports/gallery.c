#include "reports/gallery.h"

#include <math.h>

/* How alike trial i looks: the score as a similarity (distances negated). */
static double likeness(const vb_scores *s, size_t i)
{
    return s->is_distance ? -s->score[i] : s->score[i];
}

/* Whether trial i is a worse error than trial j of the same kind (ties: lower index). */
static int worse(const vb_scores *s, int genuine, size_t i, size_t j)
{
    double a = likeness(s, i), b = likeness(s, j);
    if (a != b)
        return genuine ? a < b : a > b;
    return i < j;
}

size_t vb_gallery_select(const vb_scores *s, int genuine, size_t k, size_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n && k; i++) {
        if ((s->label[i] != 0) != (genuine != 0) || !isfinite(s->score[i]))
            continue;
        if (n == k && !worse(s, genuine, i, out[n - 1]))
            continue;
        /* insert into the sorted list, dropping its last entry when full */
        size_t at = n < k ? n++ : n - 1;
        while (at > 0 && worse(s, genuine, i, out[at - 1])) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = i;
    }
    return n;
}
