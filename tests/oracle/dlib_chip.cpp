// dlib's own face chip, for tests/test_align.c's fixture (tests/data/dlib_chips/). Built
// against dlib's headers by tests/oracle/make_dlib_chip_oracle.sh; only its output is
// committed. Reads a case file written by test_align (VB_WRITE_DLIB_CASES): a line
// "w h parts size padding", w*h*3 bytes of RGB, then one "x y" line per landmark; writes
// extract_image_chip(img, get_face_chip_details(det, size, padding)) as an 8-bit RGB PNG,
// and prints the chip_details (rect, angle) on stderr.
#include <dlib/image_processing/full_object_detection.h>
#include <dlib/image_transforms.h>
#include <dlib/pixel.h>
#include <png.h>

#include <cstdio>
#include <vector>

using namespace dlib;

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: dlib_chip CASE OUT.png\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return 1;
    char line[256];
    int w, h, n, size;
    double padding;
    // fgets, not fscanf("...\n"): that would also swallow pixel bytes that look like blanks
    if (!fgets(line, sizeof line, f) || sscanf(line, "%d %d %d %d %lf", &w, &h, &n, &size, &padding) != 5)
        return 1;
    array2d<rgb_pixel> img(h, w);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char p[3];
            if (fread(p, 1, 3, f) != 3)
                return 1;
            img[y][x] = rgb_pixel(p[0], p[1], p[2]);
        }
    // dpoint landmarks: the geometry under test, without dlib's shape_predictor rounding
    std::vector<dpoint> parts(n);
    for (int i = 0; i < n; i++) {
        double x, y;
        if (fscanf(f, "%lf %lf", &x, &y) != 2)
            return 1;
        parts[i] = dpoint(x, y);
    }
    fclose(f);
    full_object_detection det(rectangle(0, 0, w - 1, h - 1), parts);
    chip_details cd = get_face_chip_details(det, size, padding);
    fprintf(stderr, "%s: rect %.10f %.10f %.10f %.10f angle %.12f\n", argv[1], cd.rect.left(), cd.rect.top(),
            cd.rect.right(), cd.rect.bottom(), cd.angle);
    matrix<rgb_pixel> chip;
    extract_image_chip(img, cd, chip);
    std::vector<unsigned char> bytes;
    for (long r = 0; r < chip.nr(); r++)
        for (long c = 0; c < chip.nc(); c++) {
            bytes.push_back(chip(r, c).red);
            bytes.push_back(chip(r, c).green);
            bytes.push_back(chip(r, c).blue);
        }
    png_image pi = {};
    pi.version = PNG_IMAGE_VERSION;
    pi.width = chip.nc();
    pi.height = chip.nr();
    pi.format = PNG_FORMAT_RGB;
    return png_image_write_to_file(&pi, argv[2], 0, bytes.data(), 0, NULL) ? 0 : 1;
}
