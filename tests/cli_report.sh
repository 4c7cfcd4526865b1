#!/bin/sh
# report.html of a tiny `veribench run` (real LFW images, one of them under a hostile file
# name): every section is there, names are escaped, plots and face chips are inlined, the
# page refers to nothing outside itself; and, when Debian's chromium is installed, headless
# Chromium renders it to a non-trivial screenshot (skipped with a note otherwise).
. tests/cli_lib.sh
LFW="$(cd "$VERIBENCH_DATA" && pwd)/lfw/images_deepfunneled"
M="$VB_MODELS/face_recognition.gguf"
D="$CLI_TMP/data"
EVIL_DIR="$D/<b>&dir"
EVIL="$EVIL_DIR/<script>alert(1)&'q.jpg"
mkdir -p "$EVIL_DIR"
cp "$LFW/Abel_Pacheco/Abel_Pacheco_0002.jpg" "$EVIL"
{
    echo "sample,subject,path"
    for p in Abel_Pacheco:1 Abel_Pacheco:4 Akhmed_Zakayev:1 Akhmed_Zakayev:2 Dean_Barker:1; do
        name=${p%:*} n=${p#*:}
        printf '%s_%d,%s,%s/%s/%s_%04d.jpg\n' "$name" "$n" "$name" "$LFW" "$name" "$name" "$n"
    done
    # CSV: the path holds a quote-free comma-free hostile name; the id holds markup too
    printf '"Evil<i>&_2",Abel_Pacheco,%s\n' "$EVIL"
} > "$D/manifest.csv"
OUT="$CLI_TMP/results"
expect_exit 0 "tiny run" -- $VB run --model "$M" --dataset "csv:$D/manifest.csv" --crop 70,70,180,180 --quiet --out "$OUT"
H="$OUT/report.html"
[ -s "$H" ] && ok || not_ok "report.html missing or empty"

for id in summary metrics plots histograms latency gallery provenance; do
    expect_grep "id=\"$id\"" "$H" "section $id"
done
expect_grep 'VB_GATE_VERDICT' "$H" "the place for the gate verdict"
expect_grep '<code>eer</code>' "$H" "metrics table lists eer"
expect_grep 'equal error rate, bob.measure' "$H" "metrics table has descriptions"
expect_grep 'model_sha256' "$H" "provenance has the model hash"
expect_grep 'binary_sha256' "$H" "provenance has the binary hash"
expect_grep 'dataset_fingerprint' "$H" "provenance has the dataset fingerprint"
expect_grep 'command_line</code></td><td><code>[^<]*run --model' "$H" "provenance has the command line"
expect_grep '^run,command_line,.*--crop 70,70,180,180' "$OUT/provenance.csv" "provenance.csv has the command line"

# Escaping: the hostile path and id appear only escaped.
grep -q '<script' "$H" && not_ok "raw <script in report.html" || ok
grep -q '<i>' "$H" && not_ok "raw <i> from a sample id in report.html" || ok
expect_grep '&lt;b&gt;&amp;dir/&lt;script&gt;alert\(1\)&amp;&#39;q\.jpg' "$H" "hostile path escaped in the gallery"
expect_grep 'Evil&lt;i&gt;&amp;_2' "$H" "hostile id escaped"

# Self-contained: chips inlined (one per face shown), no external resource.
chips=$(grep -o 'class="chip" alt="[^"]*" src="data:image/png;base64,' "$H" | wc -l)
[ "$chips" -ge 10 ] && ok || not_ok "expected >= 10 inlined face chips, found $chips"
ls "$OUT"/gallery/*.png >/dev/null 2>&1 && ok || not_ok "no chip files in gallery/"
expect_grep '^combo,kind,rank,score,a,b,path_a,path_b,chip_a,chip_b$' "$OUT/gallery.csv" "gallery.csv header"
expect_grep '^cpu-[^,]*,impostor,1,[0-9.]+,' "$OUT/gallery.csv" "gallery.csv has the worst impostor pair"
expect_grep ',genuine,1,[0-9.]+,' "$OUT/gallery.csv" "gallery.csv has the worst genuine pair"
grep -Eq '(src|href)="(https?:|//|file:)' "$H" && not_ok "report.html refers to an external resource" || ok
if command -v gnuplot >/dev/null 2>&1; then
    expect_grep 'class="plot" alt="DET curves' "$H" "DET plot inlined"
    expect_grep 'class="plot" alt="ROC curves' "$H" "ROC plot inlined"
    [ -s "$OUT/plots/roc.png" ] && ok || not_ok "plots/roc.png missing"
else
    echo "cli_report: gnuplot not installed: plot inlining not checked"
    expect_grep 'Plots were skipped' "$H" "says the plots were skipped"
fi

# A re-render leaves the page identical except for the times in it.
sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:]+(Z| UTC)//g' "$H" > "$CLI_TMP/h1"
$VB run --model "$M" --dataset "csv:$D/manifest.csv" --crop 70,70,180,180 --quiet --out "$OUT" >/dev/null 2>&1
sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:]+(Z| UTC)//g' "$H" | grep -v -E 'faces/s|ms/face|<td class=n>[0-9.]+</td></tr>$' > "$CLI_TMP/h2"
grep -v -E 'faces/s|ms/face|<td class=n>[0-9.]+</td></tr>$' "$CLI_TMP/h1" > "$CLI_TMP/h1b"
cmp -s "$CLI_TMP/h1b" "$CLI_TMP/h2" && ok || not_ok "a resumed run rendered a different report.html"

# Screenshot in headless Chromium (Debian's chromium; bootstrap.sh installs it).
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "cli_report: chromium not installed: screenshot test skipped (apt-get install chromium)"
else
    SHOT="$CLI_TMP/report.png"
    PROFILE=$(mktemp -d)
    timeout 180 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$PROFILE" \
        --screenshot="$SHOT" --window-size=1200,3000 "file://$H" >"$CLI_TMP/chromium.log" 2>&1
    rm -rf "$PROFILE"
    if [ -s "$SHOT" ] && [ "$(head -c 8 "$SHOT" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; then
        ok
        # a blank or error page compresses to a few kB; the report with plots and chips does not
        size=$(wc -c < "$SHOT")
        [ "$size" -gt 30000 ] && ok || not_ok "screenshot only $size bytes: blank page?"
        [ -n "$VB_REPORT_SCREENSHOT" ] && cp "$SHOT" "$VB_REPORT_SCREENSHOT"
    else
        not_ok "chromium wrote no PNG screenshot ($(tail -n 2 "$CLI_TMP/chromium.log"))"
    fi
fi
cli_finish
