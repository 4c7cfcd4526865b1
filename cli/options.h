/* The one option layer of the command line, after git's parse-options: each subcommand
 * declares a table of its options (vb_option rows ending in VB_OPT_END_ROW), the options
 * several commands share are macros here so that every command spells, explains and checks
 * them the same way, and one parser reads argv against the table and generates --help.
 *
 * Values are checked as they are parsed, through core/parse.h: a number out of range, an
 * empty value (--quant=), NaN or infinity where a finite number is meant, an unknown choice
 * or option each print "veribench CMD: --NAME 'VALUE': what was expected" and the parse
 * returns VB_EXIT_USAGE, before any work starts. */
#ifndef VB_OPTIONS_H
#define VB_OPTIONS_H

#include <stdio.h>

#include "core/common.h"
#include "datasets/preprocess.h"
#include "models/quantize.h"

typedef enum vb_opt_type {
    VB_OPT_END = 0,
    VB_OPT_FLAG,   /* int *: set to 1 */
    VB_OPT_STRING, /* const char **: the text, never empty */
    VB_OPT_INT,    /* int *: whole number in [lo, hi] */
    VB_OPT_DOUBLE, /* double *: finite number in [lo, hi] */
    VB_OPT_CHOICE, /* int *: index of the value in choices (NULL-terminated) */
    VB_OPT_CALL    /* call(value, text, e): anything else (lists, crops); may repeat */
} vb_opt_type;

typedef struct vb_option {
    vb_opt_type type;
    const char *name;  /* long name without "--" */
    const char *arg;   /* value placeholder in --help ("N", "FILE"); NULL for flags */
    const char *help;  /* one or more lines; later lines are indented under the first */
    void *value;
    double lo, hi;
    const char *const *choices;
    int (*call)(void *value, const char *text, vb_err *e);
} vb_option;

#define VB_OPT_END_ROW {VB_OPT_END, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL}
#define VB_OPT_FLAG_ROW(name, help, p) {VB_OPT_FLAG, name, NULL, help, p, 0, 0, NULL, NULL}
#define VB_OPT_STRING_ROW(name, arg, help, p) {VB_OPT_STRING, name, arg, help, p, 0, 0, NULL, NULL}
#define VB_OPT_INT_ROW(name, arg, help, p, lo, hi) {VB_OPT_INT, name, arg, help, p, lo, hi, NULL, NULL}
#define VB_OPT_DOUBLE_ROW(name, arg, help, p, lo, hi) {VB_OPT_DOUBLE, name, arg, help, p, lo, hi, NULL, NULL}
#define VB_OPT_CHOICE_ROW(name, arg, help, p, choices) {VB_OPT_CHOICE, name, arg, help, p, 0, 0, choices, NULL}
#define VB_OPT_CALL_ROW(name, arg, help, p, fn) {VB_OPT_CALL, name, arg, help, p, 0, 0, NULL, fn}

/* ---- shared options: the same name, help and checks in every command ---- */

/* Several backends or levels (run, bench): comma-separated and/or repeated, duplicates
 * dropped, order kept. */
#define VB_MAX_BACKEND_SPECS 8
typedef struct vb_backend_list {
    char spec[VB_MAX_BACKEND_SPECS][64];
    int n;
} vb_backend_list;
typedef struct vb_quant_list {
    vb_quant_level level[VB_QUANT_COUNT];
    int n;
} vb_quant_list;
/* --batch LIST (bench, bench-latency): batch sizes, comma-separated, each 1..4096. */
typedef struct vb_batch_list {
    int size[32];
    int n;
} vb_batch_list;

int vb_opt_backend(void *value, const char *text, vb_err *e);      /* const char ** */
int vb_opt_backend_list(void *value, const char *text, vb_err *e); /* vb_backend_list * */
int vb_opt_quant_list(void *value, const char *text, vb_err *e);   /* vb_quant_list * */
int vb_opt_crop(void *value, const char *text, vb_err *e);         /* vb_face_prep * */
int vb_opt_crop_box(void *value, const char *text, vb_err *e);     /* vb_crop * */
int vb_opt_preprocess(void *value, const char *text, vb_err *e);   /* vb_face_prep * */
int vb_opt_on_no_face(void *value, const char *text, vb_err *e);   /* vb_face_prep * */
int vb_opt_detector(void *value, const char *text, vb_err *e);     /* vb_face_prep * */
int vb_opt_chip_template(void *value, const char *text, vb_err *e); /* vb_face_prep * */
int vb_opt_batch_list(void *value, const char *text, vb_err *e);   /* vb_batch_list * */

#define VB_OPT_MODEL(p) \
    VB_OPT_STRING_ROW("model", "FILE", "GGUF model (default: $VB_MODELS/face_recognition.gguf,\nelse build/models/face_recognition.gguf)", p)
#define VB_OPT_BACKEND(p) \
    VB_OPT_CALL_ROW("backend", "B", "backend: cpu, cpu:ref (plain fp32 reference), vulkan, vulkan:N\n(see veribench devices)", p, vb_opt_backend)
#define VB_OPT_BACKENDS(p) \
    VB_OPT_CALL_ROW("backend", "LIST", "backends: cpu (default), cpu:ref, vulkan, vulkan:N;\ncomma-separated or repeated", p, vb_opt_backend_list)
#define VB_OPT_QUANTS(p) \
    VB_OPT_CALL_ROW("quant", "LIST", "weight levels fp32, fp16, int8, int4, comma-separated;\nquantized in memory from the model", p, vb_opt_quant_list)
#define VB_OPT_THREADS(p) \
    VB_OPT_INT_ROW("threads", "N", "CPU threads, 1..256 (default: every core)", p, 1, 256)
#define VB_OPT_BATCH(p) \
    VB_OPT_INT_ROW("batch", "N", "images per backend call, 1..4096 (default: the backend's choice)", p, 1, 4096)
/* A plain crop box, for commands that only resize (bench-latency). */
#define VB_OPT_CROP_BOX(p) \
    VB_OPT_CALL_ROW("crop", "x0,y0,x1,y1", "crop box before the resize, end-exclusive pixels\n(LFW: 70,70,180,180)", p, vb_opt_crop_box)
/* How a face becomes the net's input (datasets/preprocess.h, vb_face_prep): five rows. */
#define VB_OPT_FACE_PREP(p) \
    VB_OPT_CALL_ROW("preprocess", "MODE", "align (default): detect, 68 landmarks, warp onto dlib's chip;\n" \
                    "crop:x0,y0,x1,y1: a fixed box (end-exclusive pixels) resized;\ncrop: the whole image resized", \
                    p, vb_opt_preprocess), \
    VB_OPT_CALL_ROW("crop", "x0,y0,x1,y1", "same as --preprocess crop:x0,y0,x1,y1 (LFW: 70,70,180,180)", p, vb_opt_crop), \
    VB_OPT_CALL_ROW("detector", "NAME", "align: face detector, tiny (default: face-api.js tiny face\n" \
                    "detector, input 416), tiny:SIZE (its input side, a multiple of 32: 256 suits\n" \
                    "250x250 LFW) or ssd (face-api.js SSD MobileNet v1, ssd_mobilenetv1.gguf)", p, \
                    vb_opt_detector), \
    VB_OPT_CALL_ROW("chip-template", "N", "align: dlib's chip template, 68 (default: eyes, nose, upper\n" \
                    "mouth) or 5 (eye corners and nose base from the 68 landmarks)", p, vb_opt_chip_template), \
    VB_OPT_CALL_ROW("on-no-face", "POLICY", "align, no face found: fta (default: failure to acquire, its\n" \
                    "trials scored as non-matches) or fallback-crop:x0,y0,x1,y1\n(landmarks on that box; " \
                    "LFW: 70,70,180,180)", p, vb_opt_on_no_face)
#define VB_OPT_FP16(p)                                                                                     \
    VB_OPT_FLAG_ROW("fp16", "Vulkan: fp16 activations and weights where the device has them (faster;\n"  \
                            "distances move by up to ~6e-4, so near-threshold decisions can flip)", p)
#define VB_OPT_VALIDATION(p) \
    VB_OPT_FLAG_ROW("validation", "Vulkan: Khronos validation layer on; any message is a failure", p)
#define VB_OPT_QUIET(p) VB_OPT_FLAG_ROW("quiet", "no progress or notes on stderr", p)
/* The decoder's size limit (datasets/image.h): a file declaring more pixels is refused
 * before any pixel memory is allocated. Call vb_opt_apply_max_pixels after parsing. */
#define VB_OPT_MAX_PIXELS(p) \
    VB_OPT_INT_ROW("max-pixels", "N", "refuse images declaring more than N pixels, 1..1073741824\n(default 67108864: 64 megapixels)", p, 1, 1073741824)
void vb_opt_apply_max_pixels(int max_pixels); /* 0: leave the default */

/* The level of every confidence interval (reports/intervals.h), run and metrics. */
#define VB_OPT_CONFIDENCE(p) \
    VB_OPT_DOUBLE_ROW("confidence", "L", "level of the confidence intervals, 0.5..0.999999 (default 0.95)", p, 0.5, 0.999999)

/* ---- parsing ---- */

typedef struct vb_command_help {
    const char *name;     /* "run" */
    const char *synopsis; /* usage line(s) after "veribench NAME " */
    /* The text between the usage and the option list (may be NULL). */
    void (*describe)(FILE *f);
    const char *exit_codes; /* e.g. "0 done; 2 usage; 3 bad input" (NULL: the standard line) */
} vb_command_help;

/* Returned by vb_options_parse when the command should go on. */
#define VB_OPTS_GO (-1)

/* Parse argv[1..] (argv[0] is the command name) against opts. Returns VB_OPTS_GO with
 * *first_arg = index of the first operand, or an exit code to return at once: VB_EXIT_OK
 * after printing --help on stdout, VB_EXIT_USAGE after printing the error. */
int vb_options_parse(const vb_command_help *h, const vb_option *opts, int argc, char **argv, int *first_arg);

/* The same for a command that takes no operands: one left over is a usage error. */
int vb_options_parse_all(const vb_command_help *h, const vb_option *opts, int argc, char **argv);

/* Generated help: usage, description, option list, exit codes. */
void vb_options_usage(FILE *f, const vb_command_help *h, const vb_option *opts);

/* A usage error with the command's name and a pointer to --help; returns VB_EXIT_USAGE. */
int vb_usage_error(const vb_command_help *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
