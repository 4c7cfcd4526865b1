#include "reports/format.h"

#include <math.h>
#include <stdio.h>

const char *vb_fmt_pct(double v, char buf[32])
{
    if (isnan(v))
        return "n/a";
    snprintf(buf, 32, fabs(v) < 0.001 && v != 0 ? "%.4f%%" : "%.3f%%", 100 * v);
    return buf;
}

const char *vb_fmt_pp(double v, char buf[32])
{
    if (isnan(v))
        return "n/a";
    snprintf(buf, 32, "%+.3f pp", 100 * v);
    return buf;
}

const char *vb_fmt_num(double v, const char *fmt, char buf[32])
{
    if (isnan(v))
        return "n/a";
    snprintf(buf, 32, fmt, v);
    return buf;
}
