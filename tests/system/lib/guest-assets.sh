# shellcheck shell=bash
# Guest kernel and initramfs for the system tests (sourced).
# Both are cached: the kernel per version, the initramfs per content, so a
# warm run neither touches apt nor rebuilds anything.

# The cloud kernel is small and has virtio_balloon as a loadable module, which
# is what lets one initramfs decide per guest whether the balloon driver ever
# loads. Each release's own: Debian 12's 6.1 has virtio and virtio_pci as
# modules under lib/modules; Debian 13's 6.12 has them built in and keeps its
# modules under usr/lib/modules, compressed (.ko.xz). Both are handled here,
# so the lane takes whatever linux-image-cloud-amd64 the host's apt offers.
readonly GUEST_KERNEL_META_PACKAGE=linux-image-cloud-amd64
readonly GUEST_MODULES_BASE=virtio_pci
readonly GUEST_MODULES_BALLOON=virtio_balloon

# Prints the versioned kernel package the meta package points at.
_kernel_package_name() {
  local depends
  depends=$(apt-cache depends "$GUEST_KERNEL_META_PACKAGE" 2>/dev/null) || return 1
  awk '/Depends: linux-image-[0-9]/ { print $2; exit }' <<<"$depends"
}

# Prints the module files for a module and its dependencies, in load order;
# nothing for those built into the kernel.
_module_chain() {
  local root=$1 version=$2 module=$3 out
  out=$(modprobe --show-depends -d "$root" -S "$version" "$module") ||
    die "modprobe cannot resolve $module in kernel $version"
  awk '$1 == "insmod" { print $2 }' <<<"$out"
}

# depmod and modprobe of either release look in ROOT/lib/modules or in
# ROOT/usr/lib/modules: give the unpacked tree both, whichever it came with.
_merge_module_dirs() {
  local root=$1
  if [[ -d $root/usr/lib/modules && ! -e $root/lib/modules ]]; then
    mkdir -p "$root/lib"
    mv "$root/usr/lib/modules" "$root/lib/modules"
  fi
  mkdir -p "$root/usr/lib"
  [[ -e $root/usr/lib/modules ]] || ln -s ../../lib/modules "$root/usr/lib/modules"
}

# Copies module file KO into DIR uncompressed (busybox's insmod in the guest
# takes plain .ko files only) and prints its name there.
_uncompressed_module() {
  local ko=$1 dir=$2 name
  name=$(basename "$ko")
  case $name in
    *.ko) cp -n "$ko" "$dir/" ;;
    *.ko.xz)
      name=${name%.xz}
      [[ -e $dir/$name ]] || xz -dc "$ko" >"$dir/$name" || die "cannot decompress $ko"
      ;;
    *) die "module $ko is compressed in a way the lane does not know" ;;
  esac
  echo "$name"
}

# Sets GUEST_KERNEL_DIR to a cached directory holding vmlinuz, the virtio
# modules and two load-order lists (base.order, balloon.order).
ensure_guest_kernel() {
  local cache=$1
  if [[ -f "$cache/kernel-current" ]]; then
    GUEST_KERNEL_DIR="$cache/$(cat "$cache/kernel-current")"
    if [[ -f "$GUEST_KERNEL_DIR/vmlinuz" && -f "$GUEST_KERNEL_DIR/balloon.order" ]]; then
      log "guest kernel: cached $GUEST_KERNEL_DIR"
      return 0
    fi
  fi

  local package
  if ! package=$(_kernel_package_name) || [[ -z "$package" ]]; then
    log "apt has no $GUEST_KERNEL_META_PACKAGE yet: updating package lists"
    timeout 180 apt-get -o DPkg::Lock::Timeout=60 update -q >&2
    package=$(_kernel_package_name) || die "cannot resolve $GUEST_KERNEL_META_PACKAGE"
  fi
  local version=${package#linux-image-}
  local tmp
  tmp=$(mktemp -d "$cache/.kernel.XXXXXX")
  log "guest kernel: downloading $package"
  # _apt cannot write into a root-only temp dir; the download is a plain file.
  (cd "$tmp" && timeout 180 apt-get -q -o APT::Sandbox::User=root download "$package" >&2) ||
    die "apt-get download $package failed"
  local deb=("$tmp"/*.deb)
  # Only the kernel image and the module tree are needed, not firmware or docs.
  # The pattern takes lib/modules and usr/lib/modules alike.
  mkdir "$tmp/root"
  dpkg-deb --fsys-tarfile "${deb[0]}" |
    tar -x -C "$tmp/root" --wildcards './boot/vmlinuz-*' '*/lib/modules/*' ||
    die "cannot unpack ${deb[0]}"
  _merge_module_dirs "$tmp/root"
  depmod -b "$tmp/root" "$version"

  local out="$tmp/kernel-$version"
  mkdir "$out"
  cp "$tmp/root/boot/vmlinuz-$version" "$out/vmlinuz"
  local chain list module
  for list in base balloon; do
    [[ $list == base ]] && module=$GUEST_MODULES_BASE || module=$GUEST_MODULES_BALLOON
    chain=$(_module_chain "$tmp/root" "$version" "$module")
    : >"$out/$list.order"
    while read -r ko; do
      [[ -n "$ko" ]] || continue
      ko=$(_uncompressed_module "$ko" "$out")
      # balloon.order lists only what base.order has not loaded already.
      if [[ $list == balloon ]] && grep -qxF "$ko" "$out/base.order"; then
        continue
      fi
      echo "$ko" >>"$out/$list.order"
    done <<<"$chain"
  done
  # An empty base.order is fine: the virtio stack is built in (Debian 13).
  # The balloon driver must stay a module, or no guest could be without it.
  [[ -s "$out/balloon.order" ]] ||
    die "$GUEST_MODULES_BALLOON is not a loadable module in $package (built in?)"
  rm -rf "$cache/kernel-$version"
  mv "$out" "$cache/kernel-$version"
  echo "kernel-$version" >"$cache/kernel-current.tmp"
  mv "$cache/kernel-current.tmp" "$cache/kernel-current"
  rm -rf "$tmp"
  GUEST_KERNEL_DIR="$cache/kernel-$version"
  log "guest kernel: $GUEST_KERNEL_DIR ($(tr '\n' ' ' <"$GUEST_KERNEL_DIR/base.order")+ $(tr '\n' ' ' <"$GUEST_KERNEL_DIR/balloon.order"))"
}

# Sets GUEST_INITRD to a cached newc+gzip initramfs: busybox-static as the
# whole userland, INIT_SCRIPT as /init and the modules of GUEST_KERNEL_DIR.
ensure_guest_initramfs() {
  local cache=$1 init_script=$2
  local busybox=/bin/busybox
  [[ -x $busybox ]] || die "$busybox missing (package busybox-static)"
  # busybox must be static: the initramfs has no libc.
  if ldd "$busybox" >/dev/null 2>&1; then die "$busybox is dynamically linked"; fi
  local key
  key=$(cat "$init_script" "$GUEST_KERNEL_DIR"/*.order "$busybox" | sha256sum | cut -c1-16)
  GUEST_INITRD="$cache/initramfs-$key.img"
  if [[ -s "$GUEST_INITRD" ]]; then
    log "guest initramfs: cached $GUEST_INITRD"
    return 0
  fi
  local tmp
  tmp=$(mktemp -d "$cache/.initramfs.XXXXXX")
  mkdir -p "$tmp/root/bin" "$tmp/root/lib/modules" "$tmp/root/proc" "$tmp/root/sys" \
    "$tmp/root/dev" "$tmp/root/fill"
  cp "$busybox" "$tmp/root/bin/busybox"
  local applet applets
  applets=$("$busybox" --list)
  for applet in $applets; do
    [[ $applet == busybox ]] || ln -s busybox "$tmp/root/bin/$applet"
  done
  install -m 0755 "$init_script" "$tmp/root/init"
  cp "$GUEST_KERNEL_DIR"/*.ko "$GUEST_KERNEL_DIR"/*.order "$tmp/root/lib/modules/"
  (cd "$tmp/root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -6 >"$tmp/initramfs.img"
  mv "$tmp/initramfs.img" "$GUEST_INITRD"
  rm -rf "$tmp"
  # Images of earlier init scripts are of no further use.
  local old
  for old in "$cache"/initramfs-*.img; do
    [[ $old == "$GUEST_INITRD" ]] || rm -f "$old"
  done
  log "guest initramfs: built $GUEST_INITRD ($(du -k "$GUEST_INITRD" | cut -f1) KiB)"
}
