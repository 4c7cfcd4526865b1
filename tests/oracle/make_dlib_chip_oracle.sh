#!/bin/sh
# Regenerates tests/data/dlib_chips/: face chips made by dlib itself (extract_image_chip
# with get_face_chip_details, header-only, built from DLIB_SRC, a checkout of
# github.com/davisking/dlib; the fixture was made at commit 3d40bf5790ca) from the
# synthetic cases test_align writes. Run from the repository root after building
# build/tests/test_align. Needs g++ and libpng.
set -eu
BUILD=${BUILD:-build}
DLIB_SRC=${DLIB_SRC:?set DLIB_SRC to a dlib checkout (the folder holding dlib/)}
work="$BUILD/oracle/dlib_chips"
mkdir -p "$work" tests/data/dlib_chips
g++ -O2 -std=c++14 -I"$DLIB_SRC" tests/oracle/dlib_chip.cpp -o "$work/dlib_chip" -lpng -lpthread
VB_WRITE_DLIB_CASES="$work" "$BUILD/tests/test_align"
for c in "$work"/case_*.txt; do
    k=$(basename "$c" .txt)
    "$work/dlib_chip" "$c" "tests/data/dlib_chips/$k.png"
done
