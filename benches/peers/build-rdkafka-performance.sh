#!/usr/bin/env bash
# Builds librdkafka's own benchmark tool, examples/rdkafka_performance, from the librdkafka
# source that the rdkafka-sys crate in benches/peers/Cargo.lock ships, so the tool is the
# same librdkafka version rust-rdkafka links. Prints the path of the binary.
#
#   benches/peers/build-rdkafka-performance.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/target/rdkafka-performance
bin=$out/src/examples/rdkafka_performance

log() { echo "rdkafka_performance: $*" >&2; }

# The rdkafka-sys package the lock file resolves, fetched into the cargo registry.
cargo fetch --manifest-path "$here/Cargo.toml" -q
src=$(cargo metadata --manifest-path "$here/Cargo.toml" --format-version 1 2>/dev/null |
    python3 -c 'import json, os, sys
m = json.load(sys.stdin)
p = [p for p in m["packages"] if p["name"] == "rdkafka-sys"][0]
print(os.path.join(os.path.dirname(p["manifest_path"]), "librdkafka"))')
[[ -x $src/configure ]] || { log "no librdkafka source at $src"; exit 1; }
version=$(basename "$(dirname "$src")")

if [[ -x $bin && -f $out/.version && $(<"$out/.version") == "$version" ]]; then
    echo "$bin"
    exit 0
fi
as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else log "need root to run: $*"; exit 1; fi
}
# A fresh machine: a C compiler, make, and zlib's headers (gzip is one of the benchmarked
# codecs). Installed with apt-get where it is available, else the build says what is missing.
missing=()
command -v cc >/dev/null || missing+=(gcc)
command -v make >/dev/null || missing+=(make)
[[ -f /usr/include/zlib.h ]] || missing+=(zlib1g-dev)
if [[ ${#missing[@]} -gt 0 ]]; then
    if command -v apt-get >/dev/null; then
        log "apt-get install ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    else
        log "missing: ${missing[*]} (install them and run again)"; exit 1
    fi
fi
log "building from $version (a minute or two)"
rm -rf "$out"
mkdir -p "$out"
cp -a "$src" "$out/src"
cd "$out/src"
# Plain TCP only: TLS, SASL and HTTP are not used by the benchmarks, and their
# development packages may be missing. lz4 is librdkafka's bundled copy; zstd only if
# its headers are installed.
zstd=--disable-zstd
[[ -f /usr/include/zstd.h ]] && zstd=--enable-zstd
./configure --disable-ssl --disable-gssapi --disable-sasl --disable-curl --disable-lz4-ext \
    "$zstd" --enable-static >"$out/configure.log" 2>&1 ||
    { tail -20 "$out/configure.log" >&2; exit 1; }
grep -q '^#define WITH_ZLIB 1' config.h ||
    { log "configure found no zlib: gzip would be missing (see $out/configure.log)"; exit 1; }
make -j"$(nproc)" libs >"$out/make.log" 2>&1 || { tail -20 "$out/make.log" >&2; exit 1; }
make -C examples rdkafka_performance >>"$out/make.log" 2>&1 ||
    { tail -20 "$out/make.log" >&2; exit 1; }
echo "$version" >"$out/.version"
echo "$bin"
