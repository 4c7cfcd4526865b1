/* Image decoding: JPEG (libjpeg-turbo, default settings; CMYK/YCCK folded to RGB), PNG
 * (libpng, every bit depth and colour type), 8/16-bit grayscale/RGB TIFF (libtiff),
 * PGM/PPM (maxval 1..65535) and uncompressed 8/24/32-bit BMP. Pixels are decoded exactly as stored, 16-bit samples rounded
 * to 8 bits, with no gamma or colour management; alpha is composited on black. The format is detected from the file's first bytes, not
 * its name. Corrupt or truncated files are errors naming the file (libjpeg's "premature
 * end of data" warning included: a half-gray image is never passed on as a face). */
#ifndef VB_IMAGE_H
#define VB_IMAGE_H

#include <stdint.h>

#include "core/common.h"

typedef struct vb_image {
    int w, h;
    int c;        /* 1 (gray) or 3 (RGB), interleaved, rows top to bottom */
    uint8_t *px;  /* w * h * c bytes, owned */
} vb_image;

/* Largest image we agree to decode (pixels), refusing decompression bombs before any pixel
 * memory is allocated: VB_IMAGE_MAX_PIXELS unless a command sets another limit
 * (--max-pixels) before decoding starts. The setting is process-wide; set it before threads. */
#define VB_IMAGE_MAX_PIXELS (64u * 1024u * 1024u)
void vb_image_set_max_pixels(uint64_t max_pixels);
uint64_t vb_image_max_pixels(void);

int vb_image_load(const char *path, vb_image *img, vb_err *e);
int vb_image_decode(const uint8_t *data, size_t size, const char *path_for_errors, vb_image *img,
                    vb_err *e);
void vb_image_free(vb_image *img);
/* Write as binary PPM (P6) or PGM (P5): for debugging and for oracle scripts. */
int vb_image_save_pnm(const vb_image *img, const char *path, vb_err *e);
/* PNG (8-bit gray or RGB, non-interlaced) of img into a malloc'd buffer *png of *n bytes.
 * VB_EXIT_IO on allocation or libpng failure. */
int vb_png_encode(const vb_image *img, uint8_t **png, size_t *n, vb_err *e);
/* Write as an 8-bit PNG, grey (c = 1) or RGB (c = 3), atomically (core/files.h: the old
 * file or the complete new one, never a part); errors name the file. For --save-chips. */
int vb_image_save_png(const vb_image *img, const char *path, vb_err *e);

#endif
