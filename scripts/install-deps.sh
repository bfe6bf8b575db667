#!/usr/bin/env bash
# Installs the system packages TeleOps builds against, when any is missing.
# With --test it also installs what only the tests need: chromium, for the headless browser
# test of the scenario pages (make test passes it; make run does not need it).
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail

packages=(libzmq3-dev libcurl4-openssl-dev libssl-dev pkg-config libsqlite3-dev)
for argument in "$@"; do
  case "$argument" in
    --test) packages+=(chromium) ;;
    *) echo "usage: $0 [--test]  (unknown argument '$argument')" >&2; exit 2 ;;
  esac
done
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ! command -v swift >/dev/null 2>&1; then
  echo "swift is not on PATH: install a Swift 6.2+ toolchain (https://www.swift.org/install/linux/)" >&2
  exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  echo "Installing ${missing[*]} ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Install them with:  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
