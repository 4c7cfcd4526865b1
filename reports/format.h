/* How reports print numbers, the same in report.md and report.html: rates as percentages
 * with enough digits for small values, differences in percentage points, and "n/a" for a
 * value that is absent (NaN). Each writes into buf (32 bytes) and returns the text. */
#ifndef VB_REPORT_FORMAT_H
#define VB_REPORT_FORMAT_H

/* 0.0533 -> "5.333%"; below 0.1% four decimals ("0.0012%"). */
const char *vb_fmt_pct(double v, char buf[32]);
/* +0.00067 -> "+0.067 pp". */
const char *vb_fmt_pp(double v, char buf[32]);
/* printf of one double with fmt, e.g. "%.5f". */
const char *vb_fmt_num(double v, const char *fmt, char buf[32]);

#endif
