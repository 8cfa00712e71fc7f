#!/usr/bin/env bash
# Sets up the runtime the TorchSharp training child needs on hosts whose libstdc++ is too old for TorchSharp 0.107
# (its libLibTorchSharp.so needs GLIBCXX_3.4.32, GCC 13; Debian 12 has 3.4.30). On such hosts it fetches Debian 13's
# libc6, libstdc++6 and libgcc-s1 with a private apt directory (the system's apt state is left alone), extracts them
# into a private folder, and makes a copy of the dotnet host whose ELF interpreter is that folder's ld.so.
# The result is one launcher, <root>/run, that starts `dotnet <args>` with those libraries for that process only:
# nothing else ever sees its LD_LIBRARY_PATH (a Debian 12 program given the newer libc crashes at once).
#
# Hosts with a new enough libstdc++ need nothing: the script says so and exits. Safe to run again (it is a no-op once
# set up). Prints the seconds it took. Where: $AIAAS_TORCH_COMPAT, else ~/.cache/aiaas-queue/torch-compat.
set -euo pipefail

root="${AIAAS_TORCH_COMPAT:-${XDG_CACHE_HOME:-$HOME/.cache}/aiaas-queue/torch-compat}"
needed_glibcxx="GLIBCXX_3.4.32"
started=$(date +%s.%N)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# awk reads to the end (no early exit): with pipefail, ldconfig killed by SIGPIPE would end this script with 141.
host_libstdcxx=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ && !found {print $NF; found = 1}')
if [ -n "$host_libstdcxx" ] && grep -qa "$needed_glibcxx" "$host_libstdcxx" && [ "${AIAAS_TORCH_COMPAT_FORCE:-}" != 1 ]; then
  echo "torch-compat: host libstdc++ has $needed_glibcxx; no compatibility runtime needed"
  exit 0
fi

dotnet_path=$(readlink -f "$(command -v dotnet)")
dotnet_root=$(dirname "$dotnet_path")
if [ -x "$root/run" ] && [ "$(cat "$root/.dotnet-root" 2>/dev/null)" = "$dotnet_root" ] && "$root/run" --list-runtimes >/dev/null 2>&1; then
  echo "torch-compat: ready at $root"
  exit 0
fi

if ! command -v patchelf >/dev/null 2>&1; then
  echo "torch-compat: installing patchelf from Debian's packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patchelf >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
# The system's own Debian mirror, trixie suite.
uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$uri" ] || uri=$(awk '$1=="deb"{for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$uri" ] || { echo "torch-compat: no Debian mirror found in the apt sources" >&2; exit 1; }
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" > "$work/sources.list"
O=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
   -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1)
# The private folder belongs to this user; apt's download sandbox user could not write to it.
[ "$(id -u)" = 0 ] && O+=(-o APT::Sandbox::User=root)
echo "torch-compat: fetching Debian 13 libc6, libstdc++6, libgcc-s1 from $uri"
apt-get "${O[@]}" update -qq
(cd "$work" && apt-get "${O[@]}" download -qq libc6/trixie libstdc++6/trixie libgcc-s1/trixie)

staging="$root.tmp.$$"
rm -rf "$staging"
mkdir -p "$staging/dotnet"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$staging/sysroot"; done
libdir="$staging/sysroot/usr/lib/x86_64-linux-gnu"
[ -e "$libdir/ld-linux-x86-64.so.2" ] || { echo "torch-compat: no ld-linux-x86-64.so.2 in the trixie libc6" >&2; exit 1; }

# A copy of the host binary next to links to the real runtimes: only the copy gets the new interpreter.
cp "$dotnet_path" "$staging/dotnet/dotnet"
for d in host shared; do ln -s "$dotnet_root/$d" "$staging/dotnet/$d"; done
final_libdir="$root/sysroot/usr/lib/x86_64-linux-gnu"
patchelf --set-interpreter "$final_libdir/ld-linux-x86-64.so.2" "$staging/dotnet/dotnet"

cat > "$staging/run" <<EOF
#!/bin/sh
# Starts dotnet with Debian 13's libc and libstdc++ for this process only (made by scripts/setup-torch-compat.sh).
LD_LIBRARY_PATH="$final_libdir" DOTNET_ROOT="$root/dotnet" exec "$root/dotnet/dotnet" "\$@"
EOF
chmod +x "$staging/run"
echo "$dotnet_root" > "$staging/.dotnet-root"

rm -rf "$root"
mkdir -p "$(dirname "$root")"
mv "$staging" "$root"
"$root/run" --list-runtimes >/dev/null
elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
echo "torch-compat: ready at $root (set up in ${elapsed}s)"
